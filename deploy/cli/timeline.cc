#include "deploy/cli/timeline.h"

#include <set>

#include "deploy/cli/state_format.h"

namespace lumen::cli {
namespace {

// The earliest time (ns) `entry` reached `state`; 0 if never.
int64_t TimeOf(const rpc::TaskInfoEntry& entry, rpc::TaskState state) {
  return entry.state_time_ns_size() > state ? entry.state_time_ns(state) : 0;
}

double Micros(int64_t ns) { return static_cast<double>(ns) / 1000.0; }

nlohmann::json RowName(int pid, const std::string& label) {
  return {{"ph", "M"}, {"name", "process_name"}, {"pid", pid}, {"tid", pid}, {"args", {{"name", label}}}};
}

}  // namespace

nlohmann::json ChromeTrace(const std::vector<rpc::TaskInfoEntry>& tasks) {
  nlohmann::json events = nlohmann::json::array();
  std::set<int> workers;
  std::set<int> submitters;
  int64_t flow_id = 0;
  for (const auto& task : tasks) {
    int64_t start = TimeOf(task, rpc::RUNNING);
    if (start == 0) start = TimeOf(task, rpc::SUBMITTED_TO_WORKER);
    int64_t end = TimeOf(task, task.state() == rpc::FAILED ? rpc::FAILED : rpc::FINISHED);
    if (start == 0 || end == 0 || task.worker_pid() == 0) continue;
    if (end < start) end = start;
    const int pid = task.worker_pid();
    workers.insert(pid);
    const std::string name = task.name().empty() ? task.function_name() : task.name();
    nlohmann::json args = {{"task_id", HexOf(task.task_id())},
                           {"attempt", task.attempt()},
                           {"state", rpc::TaskState_Name(task.state())},
                           {"type", rpc::TaskType_Name(task.type())},
                           {"job_id", HexOf(task.job_id())},
                           {"node_id", HexOf(task.node_id())}};
    if (!task.error_type().empty()) args["error_type"] = task.error_type();
    events.push_back({{"ph", "X"}, {"cat", "task"}, {"name", name}, {"pid", pid}, {"tid", pid},
                      {"ts", Micros(start)}, {"dur", Micros(end - start)}, {"args", args}});
    const int64_t submitted = TimeOf(task, rpc::PENDING_ARGS_AVAIL);
    if (task.submitter_pid() != 0 && submitted != 0 && submitted <= start) {
      ++flow_id;
      submitters.insert(task.submitter_pid());
      events.push_back({{"ph", "s"}, {"cat", "submit"}, {"name", "submit"}, {"id", flow_id},
                        {"pid", task.submitter_pid()}, {"tid", task.submitter_pid()}, {"ts", Micros(submitted)}});
      events.push_back({{"ph", "f"}, {"bp", "e"}, {"cat", "submit"}, {"name", "submit"}, {"id", flow_id},
                        {"pid", pid}, {"tid", pid}, {"ts", Micros(start)}});
    }
  }
  for (int pid : workers) events.push_back(RowName(pid, "worker pid=" + std::to_string(pid)));
  for (int pid : submitters) {
    if (!workers.count(pid)) events.push_back(RowName(pid, "driver pid=" + std::to_string(pid)));
  }
  return {{"traceEvents", events}, {"displayTimeUnit", "ms"}};
}

}  // namespace lumen::cli
