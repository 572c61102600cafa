// deploy/cli/state_format.h
//
// The pure half of the state commands (deploy/cli/state_request.h): the
// kinds `lumen list` knows and their columns, the rows built from the
// GCS's and raylets' protos, --filter parsing and matching, and the table,
// JSON and YAML renderings. A row is a JSON object (field -> value) in the
// kind's field order. No I/O; thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "proto/common.pb.h"
#include "proto/raylet.pb.h"
#include "proto/task_events.pb.h"

namespace lumen::cli {

using Row = nlohmann::ordered_json;

struct KindSpec {
  std::string name;                        // "tasks".
  std::string id_field;                    // "task_id": what `lumen get` looks up.
  std::vector<std::string> table_columns;  // Without --detail.
  std::vector<std::string> fields;         // Every field a row may have (filter keys).
};

// nodes, jobs, actors, tasks, workers, placement-groups; null if unknown.
const KindSpec* FindKind(const std::string& name);
// "nodes, jobs, ..." for messages.
std::string KindNames();

struct Filter {
  std::string key;
  std::string value;
  bool negate = false;  // key!=value.
};
// InvalidArgument (one line) for a malformed filter or a key `kind` lacks.
absl::StatusOr<std::vector<Filter>> ParseFilters(const KindSpec& kind, const std::vector<std::string>& words);
// Values compare as text, case-insensitively.
bool Matches(const Row& row, const std::vector<Filter>& filters);

// A field's value as the table and filters show it ("" when absent).
std::string CellText(const Row& row, const std::string& field);

// Rows from the cluster's records. Ids are hex.
std::string HexOf(const std::string& binary);
Row NodeRow(const rpc::NodeInfo& node);
Row JobRow(const rpc::JobInfo& job);
Row ActorRow(const rpc::ActorInfo& actor);
Row TaskRow(const rpc::TaskInfoEntry& task);
Row WorkerRow(const rpc::WorkerStats& worker, const std::string& node_id);

// A table of `columns` that fits `width` columns: widths follow the
// content; the widest columns are cut until the lines fit.
std::string FormatTable(const std::vector<std::string>& columns, const std::vector<Row>& rows,
                        size_t width = 80);
std::string FormatJson(const nlohmann::ordered_json& value);
// Block-style YAML (strings quoted when YAML would read them otherwise).
std::string FormatYaml(const nlohmann::ordered_json& value);

// `lumen summary tasks`: per function (and type), the total and the count
// in each state. `lumen summary actors`: per class.
std::vector<Row> SummarizeTasks(const std::vector<Row>& tasks);
std::vector<Row> SummarizeActors(const std::vector<Row>& actors);

}  // namespace lumen::cli
