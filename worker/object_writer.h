// worker/object_writer.h
//
// Writing a serialized value straight into the node's plasma store: the
// value's size is known first, the object is created (pinned), the value is
// packed into the mapping and the object sealed, so a large ray::Put or
// task result is copied once, not serialized to a buffer and copied again.
// ResultTarget lets the task executor hand the id of a running task's
// return object to ray::internal::SerializeResult (called by the API
// templates on the task's thread) without changing the invoker signature.
// Threading: WriteToPlasma from any thread; a ResultTarget belongs to the
// thread that set it.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "common/id.h"
#include "plasma/client.h"
#include "ray/api/runtime.h"

namespace lumen::worker {

// Creates `id` (pinned, a primary owned by worker `owner`, binary; empty:
// the connection's identity) with `size` bytes, runs `write` on them and
// seals it. Aborts the object if `write` throws (and rethrows). Errors are
// the store's (ResourceExhausted when full, AlreadyExists when `id` exists).
absl::Status WriteToPlasma(plasma::PlasmaClient& plasma, const ObjectId& id, size_t size,
                           const ray::internal::ValueWriter& write, std::string_view owner = {});

// Where a large result of the task running on this thread goes.
struct ResultTarget {
  plasma::PlasmaClient* plasma = nullptr;
  ObjectId id;
  size_t min_size = 0;  // Results of at most this many bytes stay inline.
  std::string owner;    // The task's caller (binary WorkerId), owner of the plasma copy.
  bool written = false;
  size_t size = 0;      // When written.
  absl::Status status;  // When written: the store's answer.
};

// Makes `target` this thread's for the scope's life.
class ScopedResultTarget {
 public:
  explicit ScopedResultTarget(ResultTarget* target);
  ~ScopedResultTarget();
  ScopedResultTarget(const ScopedResultTarget&) = delete;
  ScopedResultTarget& operator=(const ScopedResultTarget&) = delete;

 private:
  ResultTarget* saved_;
};

// This thread's target, taken (cleared) so that one result uses it at most
// once; null when none.
ResultTarget* TakeResultTarget();

}  // namespace lumen::worker
