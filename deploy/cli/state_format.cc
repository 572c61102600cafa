#include "deploy/cli/state_format.h"

#include <algorithm>
#include <map>

#include "absl/strings/ascii.h"
#include "common/id.h"

namespace lumen::cli {
namespace {

const std::vector<KindSpec>& Kinds() {
  static const std::vector<KindSpec> kinds = {
      {"nodes", "node_id", {"node_id", "node_ip", "is_head_node", "state", "hostname"},
       {"node_id", "node_ip", "is_head_node", "state", "hostname", "death_cause", "resources_total",
        "start_time_ms", "end_time_ms", "raylet_port", "session_dir"}},
      {"jobs", "job_id", {"job_id", "status", "namespace", "driver_pid", "driver_executable"},
       {"job_id", "status", "namespace", "driver_pid", "driver_executable", "driver_ip", "start_time_ms",
        "end_time_ms"}},
      {"actors", "actor_id", {"actor_id", "class_name", "state", "name", "pid", "num_restarts"},
       {"actor_id", "class_name", "state", "name", "pid", "num_restarts", "job_id", "node_id", "ray_namespace",
        "max_restarts", "detached", "death_cause", "start_time_ms", "end_time_ms"}},
      {"tasks", "task_id", {"task_id", "name", "state", "type", "worker_pid", "error_type"},
       {"task_id", "attempt_number", "name", "state", "type", "worker_pid", "error_type", "func_or_class_name",
        "job_id", "actor_id", "parent_task_id", "node_id", "worker_id", "submitter_pid", "error_message",
        "start_time_ms", "end_time_ms", "state_times_ms"}},
      {"workers", "worker_id", {"worker_id", "worker_type", "state", "pid", "job_id", "actor_id"},
       {"worker_id", "worker_type", "state", "pid", "job_id", "actor_id", "node_id"}},
      {"placement-groups", "placement_group_id", {"placement_group_id", "name", "state", "strategy"},
       {"placement_group_id", "name", "state", "strategy", "bundles"}},
  };
  return kinds;
}

std::string Lower(const std::string& s) { return absl::AsciiStrToLower(s); }

std::string Upper(const std::string& s) { return absl::AsciiStrToUpper(s); }

// Wall ms of the earliest time `entry` reached one of `states`; 0 if none.
int64_t FirstMs(const rpc::TaskInfoEntry& entry, std::initializer_list<rpc::TaskState> states) {
  int64_t best = 0;
  for (rpc::TaskState state : states) {
    if (entry.state_time_ns_size() <= state || entry.state_time_ns(state) == 0) continue;
    int64_t ms = entry.state_time_ns(state) / 1'000'000;
    if (best == 0 || ms < best) best = ms;
  }
  return best;
}

// Plain YAML scalars need no quotes; anything else is written as a JSON
// string, which YAML reads as the same string.
bool PlainYaml(const std::string& s) {
  if (s.empty() || s == "true" || s == "false" || s == "null" || s == "~") return false;
  bool numeric = true;
  for (char c : s) {
    if (!(absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.' || c == '/')) return false;
    numeric &= absl::ascii_isdigit(c) || c == '.' || c == '-';
  }
  return !numeric && s[0] != '-' && !absl::ascii_isdigit(s[0]);  // 1e5 would read as a number.
}

void Yaml(const nlohmann::ordered_json& value, int indent, std::string& out);

std::string YamlScalar(const nlohmann::ordered_json& value) {
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    return PlainYaml(s) ? s : value.dump();
  }
  return value.dump();
}

bool Nested(const nlohmann::ordered_json& v) { return (v.is_object() || v.is_array()) && !v.empty(); }

void Yaml(const nlohmann::ordered_json& value, int indent, std::string& out) {
  const std::string pad(indent, ' ');
  if (value.is_array()) {
    for (const auto& item : value) {
      out += pad + "-";
      if (Nested(item)) {
        std::string inner;
        Yaml(item, indent + 2, inner);
        out += " " + inner.substr(indent + 2);  // The first line follows the dash.
      } else {
        out += " " + YamlScalar(item) + "\n";
      }
    }
    return;
  }
  for (auto it = value.begin(); it != value.end(); ++it) {
    std::string key = PlainYaml(it.key()) ? it.key() : nlohmann::json(it.key()).dump();
    if (Nested(it.value())) {
      out += pad + key + ":\n";
      Yaml(it.value(), indent + 2, out);
    } else {
      out += pad + key + ": " + YamlScalar(it.value()) + "\n";
    }
  }
}

}  // namespace

const KindSpec* FindKind(const std::string& name) {
  for (const KindSpec& kind : Kinds()) {
    if (kind.name == name) return &kind;
  }
  return nullptr;
}

std::string KindNames() {
  std::string out;
  for (const KindSpec& kind : Kinds()) out += (out.empty() ? "" : ", ") + kind.name;
  return out;
}

absl::StatusOr<std::vector<Filter>> ParseFilters(const KindSpec& kind, const std::vector<std::string>& words) {
  std::vector<Filter> filters;
  for (const std::string& word : words) {
    Filter filter;
    size_t eq = word.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError("bad filter \"" + word + "\": expected KEY=VALUE or KEY!=VALUE");
    }
    filter.negate = word[eq - 1] == '!';
    filter.key = Lower(word.substr(0, filter.negate ? eq - 1 : eq));
    filter.value = word.substr(eq + 1);
    if (std::find(kind.fields.begin(), kind.fields.end(), filter.key) == kind.fields.end()) {
      std::string known;
      for (const auto& f : kind.fields) known += (known.empty() ? "" : ", ") + f;
      return absl::InvalidArgumentError("unknown filter key \"" + filter.key + "\" for " + kind.name +
                                        " (known: " + known + ")");
    }
    filters.push_back(std::move(filter));
  }
  return filters;
}

std::string CellText(const Row& row, const std::string& field) {
  auto it = row.find(field);
  if (it == row.end() || it->is_null()) return "";
  if (it->is_string()) return it->get<std::string>();
  return it->dump();
}

bool Matches(const Row& row, const std::vector<Filter>& filters) {
  for (const Filter& filter : filters) {
    bool equal = Lower(CellText(row, filter.key)) == Lower(filter.value);
    if (equal == filter.negate) return false;
  }
  return true;
}

std::string HexOf(const std::string& binary) {
  return BytesToHex(reinterpret_cast<const uint8_t*>(binary.data()), binary.size());
}

Row NodeRow(const rpc::NodeInfo& node) {
  Row row;
  row["node_id"] = HexOf(node.node_id());
  row["node_ip"] = node.ip();
  row["is_head_node"] = node.is_head();
  row["state"] = rpc::NodeInfo::State_Name(node.state());
  row["hostname"] = node.hostname();
  row["death_cause"] = node.death_cause();
  Row resources = Row::object();
  for (const auto& [name, amount] : std::map<std::string, double>(node.resources_total().begin(),
                                                                   node.resources_total().end())) {
    resources[name] = amount;
  }
  row["resources_total"] = resources;
  row["start_time_ms"] = node.start_time_ms();
  row["end_time_ms"] = node.end_time_ms();
  row["raylet_port"] = node.raylet_port();
  row["session_dir"] = node.session_dir();
  return row;
}

Row JobRow(const rpc::JobInfo& job) {
  Row row;
  row["job_id"] = HexOf(job.job_id());
  row["status"] = job.is_dead() ? "FINISHED" : "RUNNING";
  row["namespace"] = job.namespace_();
  row["driver_pid"] = job.driver_pid();
  row["driver_executable"] = job.driver_executable();
  row["driver_ip"] = job.driver_address().ip();
  row["start_time_ms"] = job.start_time_ms();
  row["end_time_ms"] = job.end_time_ms();
  return row;
}

Row ActorRow(const rpc::ActorInfo& actor) {
  Row row;
  row["actor_id"] = HexOf(actor.actor_id());
  row["class_name"] = actor.class_name();
  row["state"] = rpc::ActorInfo::State_Name(actor.state());
  row["name"] = actor.name();
  row["pid"] = actor.pid();
  row["num_restarts"] = actor.num_restarts();
  row["job_id"] = HexOf(actor.job_id());
  row["node_id"] = HexOf(actor.address().node_id());
  row["ray_namespace"] = actor.ray_namespace();
  row["max_restarts"] = actor.max_restarts();
  row["detached"] = actor.detached();
  row["death_cause"] = actor.death_cause();
  row["start_time_ms"] = actor.start_time_ms();
  row["end_time_ms"] = actor.end_time_ms();
  return row;
}

Row TaskRow(const rpc::TaskInfoEntry& task) {
  Row row;
  row["task_id"] = HexOf(task.task_id());
  row["attempt_number"] = task.attempt();
  row["name"] = task.name().empty() ? task.function_name() : task.name();
  row["state"] = rpc::TaskState_Name(task.state());
  row["type"] = rpc::TaskType_Name(task.type());
  row["worker_pid"] = task.worker_pid();
  row["error_type"] = task.error_type();
  row["func_or_class_name"] = task.function_name();
  row["job_id"] = HexOf(task.job_id());
  row["actor_id"] = HexOf(task.actor_id());
  row["parent_task_id"] = HexOf(task.parent_task_id());
  row["node_id"] = HexOf(task.node_id());
  row["worker_id"] = HexOf(task.worker_id());
  row["submitter_pid"] = task.submitter_pid();
  row["error_message"] = task.error_message();
  row["start_time_ms"] = FirstMs(task, {rpc::RUNNING});
  row["end_time_ms"] = FirstMs(task, {rpc::FINISHED, rpc::FAILED});
  Row times = Row::object();
  for (int state = 1; state < task.state_time_ns_size(); ++state) {
    if (task.state_time_ns(state) == 0) continue;
    times[rpc::TaskState_Name(static_cast<rpc::TaskState>(state))] = task.state_time_ns(state) / 1'000'000;
  }
  row["state_times_ms"] = times;
  return row;
}

Row WorkerRow(const rpc::WorkerStats& worker, const std::string& node_id) {
  Row row;
  row["worker_id"] = HexOf(worker.worker_id());
  row["worker_type"] = worker.is_driver() ? "DRIVER" : "WORKER";
  row["state"] = worker.state();
  row["pid"] = worker.pid();
  row["job_id"] = HexOf(worker.job_id());
  row["actor_id"] = HexOf(worker.actor_id());
  row["node_id"] = node_id;
  return row;
}

std::string FormatTable(const std::vector<std::string>& columns, const std::vector<Row>& rows, size_t width) {
  constexpr size_t kGap = 2;
  constexpr size_t kMinWidth = 6;
  std::vector<size_t> widths;
  for (const std::string& column : columns) widths.push_back(column.size());
  for (const Row& row : rows) {
    for (size_t i = 0; i < columns.size(); ++i) widths[i] = std::max(widths[i], CellText(row, columns[i]).size());
  }
  auto total = [&] {
    size_t sum = columns.empty() ? 0 : kGap * (columns.size() - 1);
    for (size_t w : widths) sum += w;
    return sum;
  };
  while (total() > width) {
    auto widest = std::max_element(widths.begin(), widths.end());
    if (*widest <= kMinWidth) break;
    --*widest;
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string cell = cells[i].substr(0, widths[i]);
      if (i + 1 < cells.size()) cell.resize(widths[i] + kGap, ' ');
      out += cell;
    }
    while (!out.empty() && out.back() == ' ') out.pop_back();
    return out + "\n";
  };
  std::vector<std::string> header;
  for (const std::string& column : columns) header.push_back(Upper(column));
  std::string out = line(header);
  for (const Row& row : rows) {
    std::vector<std::string> cells;
    for (const std::string& column : columns) cells.push_back(CellText(row, column));
    out += line(cells);
  }
  return out;
}

std::string FormatJson(const nlohmann::ordered_json& value) { return value.dump(2) + "\n"; }

std::string FormatYaml(const nlohmann::ordered_json& value) {
  if (value.is_array() && value.empty()) return "[]\n";
  std::string out;
  Yaml(value, 0, out);
  return out;
}

namespace {

std::vector<Row> Summarize(const std::vector<Row>& rows, const std::string& name_field,
                           const std::string& type_field) {
  std::map<std::pair<std::string, std::string>, std::map<std::string, int64_t>> counts;
  for (const Row& row : rows) {
    auto& states = counts[{CellText(row, name_field), type_field.empty() ? "" : CellText(row, type_field)}];
    ++states[CellText(row, "state")];
  }
  std::vector<Row> out;
  for (const auto& [key, states] : counts) {
    Row row;
    row[name_field] = key.first;
    if (!type_field.empty()) row[type_field] = key.second;
    int64_t total = 0;
    std::string text;
    Row by_state = Row::object();
    for (const auto& [state, n] : states) {
      total += n;
      by_state[state] = n;
      text += (text.empty() ? "" : ", ") + state + ": " + std::to_string(n);
    }
    row["total"] = total;
    row["state_counts"] = by_state;
    row["states"] = text;
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace

std::vector<Row> SummarizeTasks(const std::vector<Row>& tasks) {
  return Summarize(tasks, "func_or_class_name", "type");
}

std::vector<Row> SummarizeActors(const std::vector<Row>& actors) { return Summarize(actors, "class_name", ""); }

}  // namespace lumen::cli
