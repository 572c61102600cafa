#include "deploy/dashboard/cluster_view.h"

#include <chrono>
#include <map>
#include <set>

#include "common/id.h"

namespace lumen::dashboard {
namespace {

using nlohmann::json;

std::string Hex(const std::string& bytes) {
  return BytesToHex(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
}

const char* ActorStateName(rpc::ActorInfo::State state) {
  switch (state) {
    case rpc::ActorInfo::PENDING: return "PENDING_CREATION";
    case rpc::ActorInfo::ALIVE: return "ALIVE";
    case rpc::ActorInfo::RESTARTING: return "RESTARTING";
    case rpc::ActorInfo::DEAD: return "DEAD";
    default: return "UNKNOWN";
  }
}

// {"CPU": {"total": 4, "available": 2}, ...}
json Resources(const rpc::ResourceView& view) {
  json out = json::object();
  for (const auto& [name, total] : view.total()) {
    auto it = view.available().find(name);
    out[name] = {{"total", total}, {"available", it == view.available().end() ? 0.0 : it->second}};
  }
  return out;
}

json Nodes(const rpc::GetAllNodesReply& nodes, const rpc::GetClusterResourcesReply& views,
           const std::map<std::string, std::set<int>>& workers, json& totals) {
  std::map<std::string, const rpc::ResourceView*> by_node;
  for (const auto& view : views.views()) by_node[view.node_id()] = &view;
  json out = json::array();
  for (const auto& node : nodes.nodes()) {
    const std::string id = Hex(node.node_id());
    json entry = {{"node_id", id},
                  {"ip", node.ip()},
                  {"state", node.state() == rpc::NodeInfo::ALIVE ? "ALIVE" : "DEAD"},
                  {"is_head", node.is_head()},
                  {"death_cause", node.death_cause()},
                  {"resources", json::object()},
                  {"object_store", nullptr}};
    auto it = workers.find(id);
    entry["worker_pids"] = it == workers.end() ? json::array() : json(it->second);
    if (auto view = by_node.find(node.node_id()); view != by_node.end()) {
      entry["resources"] = Resources(*view->second);
      if (view->second->has_object_store()) {
        entry["object_store"] = {{"capacity", view->second->object_store_capacity()},
                                 {"used", view->second->object_store_used()},
                                 {"objects", view->second->object_store_objects()}};
      }
      if (node.state() == rpc::NodeInfo::ALIVE) {
        for (const auto& [name, total] : view->second->total()) {
          if (!totals.contains(name)) totals[name] = {{"total", 0.0}, {"available", 0.0}};
          totals[name]["total"] = totals[name]["total"].get<double>() + total;
          auto available = view->second->available().find(name);
          if (available != view->second->available().end()) {
            totals[name]["available"] = totals[name]["available"].get<double>() + available->second;
          }
        }
      }
    }
    out.push_back(entry);
  }
  return out;
}

json Actors(const rpc::ListActorsReply& actors) {
  json out = json::array();
  for (const auto& actor : actors.actors()) {
    out.push_back({{"actor_id", Hex(actor.actor_id())},
                   {"class_name", actor.class_name()},
                   {"name", actor.name()},
                   {"state", ActorStateName(actor.state())},
                   {"node_id", Hex(actor.address().node_id())},
                   {"pid", actor.pid()},
                   {"num_restarts", actor.num_restarts()},
                   {"death_cause", actor.death_cause()},
                   {"job_id", Hex(actor.job_id())}});
  }
  return out;
}

json Tasks(const rpc::GetTaskEventsReply& events, std::map<std::string, std::set<int>>& workers) {
  std::map<std::string, int> by_state;
  std::map<std::string, std::map<std::string, int>> by_function;
  json failed = json::array();
  int64_t finished = 0;
  for (const auto& task : events.tasks()) {
    const std::string state = rpc::TaskState_Name(task.state());
    const std::string function = task.function_name().empty() ? task.name() : task.function_name();
    ++by_state[state];
    ++by_function[function][state];
    if (task.state() == rpc::FINISHED) ++finished;
    if (task.state() == rpc::FAILED && failed.size() < 50) {
      failed.push_back({{"task_id", Hex(task.task_id())},
                        {"function", function},
                        {"error_type", task.error_type()},
                        {"error_message", task.error_message()}});
    }
    if (task.worker_pid() > 0 && !task.node_id().empty()) {
      workers[Hex(task.node_id())].insert(task.worker_pid());
    }
  }
  return {{"by_state", by_state}, {"by_function", by_function}, {"failed", failed},
          {"finished", finished}, {"total", events.total()}};
}

}  // namespace

ClusterView::ClusterView(const std::string& gcs_address, const std::string& token,
                         int timeout_ms)
    : gcs_(gcs_address, token), task_events_(gcs_address, token), timeout_ms_(timeout_ms) {}

absl::StatusOr<json> ClusterView::Snapshot() {
  try {
    return Gather();
  } catch (const json::exception& e) {  // A bug here must not take the dashboard down.
    return absl::InternalError(std::string("building the cluster view: ") + e.what());
  }
}

absl::StatusOr<json> ClusterView::Gather() {
  using Gcs = rpc::GcsService::Stub;
  auto nodes = gcs_.CallSync(&Gcs::GetAllNodes, rpc::GetAllNodesRequest(), timeout_ms_);
  if (!nodes.ok()) return nodes.status();
  auto views = gcs_.CallSync(&Gcs::GetClusterResources, rpc::GetClusterResourcesRequest(),
                             timeout_ms_);
  if (!views.ok()) return views.status();
  auto jobs = gcs_.CallSync(&Gcs::GetAllJobs, rpc::GetAllJobsRequest(), timeout_ms_);
  if (!jobs.ok()) return jobs.status();
  auto actors = gcs_.CallSync(&Gcs::ListActors, rpc::ListActorsRequest(), timeout_ms_);
  if (!actors.ok()) return actors.status();
  rpc::GetTaskEventsRequest task_request;
  task_request.set_limit(10000);
  auto tasks = task_events_.CallSync(&rpc::TaskEventService::Stub::GetTaskEvents, task_request,
                                     timeout_ms_);
  if (!tasks.ok()) return tasks.status();

  std::map<std::string, std::set<int>> workers;
  json snapshot;
  snapshot["tasks"] = Tasks(*tasks, workers);
  json totals = json::object();
  snapshot["nodes"] = Nodes(*nodes, *views, workers, totals);
  snapshot["totals"] = totals;
  uint64_t store_used = 0;
  for (const auto& view : views->views()) store_used += view.object_store_used();
  snapshot["store_used"] = store_used;
  json drivers = json::array();
  for (const auto& job : jobs->jobs()) {
    drivers.push_back({{"job_id", Hex(job.job_id())},
                       {"driver_pid", job.driver_pid()},
                       {"is_dead", job.is_dead()},
                       {"start_time", job.start_time_ms()},
                       {"end_time", job.end_time_ms()},
                       {"entrypoint", job.driver_executable()}});
  }
  snapshot["drivers"] = drivers;
  snapshot["actors"] = Actors(*actors);
  snapshot["time_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
  return snapshot;
}

void ClusterView::Sample(const json& snapshot) {
  history_.push_back({{"t", snapshot["time_ms"]},
                      {"finished", snapshot["tasks"]["finished"]},
                      {"store_used", snapshot["store_used"]}});
  while (history_.size() > kHistoryPoints) history_.pop_front();
}

json ClusterView::History() const { return json(history_); }

}  // namespace lumen::dashboard
