// deploy/cli/memory_format.h
//
// The pure half of `lumen memory`, `lumen list objects` and `lumen summary
// objects` (docs/observability.md, "Objects"): one row per object ref per
// process from a worker's or driver's GetReferences reply, why the ref is
// held (its reference type), and the grouped table and summaries. No I/O.
#pragma once

#include <string>
#include <vector>

#include "deploy/cli/state_format.h"
#include "proto/worker.pb.h"

namespace lumen::cli {

// The process a GetReferences reply came from.
struct RefProcess {
  std::string node_ip;
  int pid = 0;
  bool is_driver = false;
  std::string worker_id;  // Hex.
};

// The "objects" kind: its columns and filter keys.
const KindSpec& ObjectsKind();

// Why a ref is held, Ray's names, the first that applies: PINNED_IN_MEMORY
// (an owned ray::Put with ObjectRef copies here), LOCAL_REFERENCE (other
// owned objects with ObjectRef copies here), BORROWED (a ref owned
// elsewhere with copies here), USED_BY_PENDING_TASK (no copy here, but
// tasks in flight that this process submitted take it as an argument),
// USED_BY_LINEAGE (Lumen's: only lineage holds it, an argument of a
// finished task this process may run again to rebuild a lost result),
// CAPTURED_IN_OBJECT (only objects whose value holds the ref keep it),
// BORROWED (held only for other workers).
std::string ReferenceType(const rpc::ReferenceInfo& ref, int contained_in);

// One row per ref of `reply`.
std::vector<Row> ObjectRows(const RefProcess& process, const rpc::GetReferencesReply& reply);

// `lumen memory`: rows grouped by owner process, then a summary line.
std::string FormatMemory(const std::vector<Row>& rows, size_t width = 80);

// `lumen summary objects`: refs and bytes per reference type and per
// process.
std::vector<Row> SummarizeObjects(const std::vector<Row>& rows);

}  // namespace lumen::cli
