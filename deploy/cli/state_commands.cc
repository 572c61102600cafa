// `lumen list`, `get`, `summary` and `timeline` (deploy/cli/state_request.h):
// fetch from the cluster, then hand over to the pure formatting of
// deploy/cli/state_format.h and deploy/cli/timeline.h.
#include <algorithm>
#include <fstream>
#include <iostream>

#include "absl/strings/ascii.h"
#include "common/id.h"
#include "common/rpc/auth.h"
#include "common/rpc/client.h"
#include "common/status.h"
#include "deploy/cli/commands.h"
#include "deploy/cli/state_format.h"
#include "deploy/cli/state_request.h"
#include "deploy/cli/timeline.h"
#include "proto/gcs.grpc.pb.h"
#include "proto/raylet.grpc.pb.h"
#include "proto/task_events.grpc.pb.h"

namespace lumen::cli {
namespace {

Row PlacementGroupRow(const rpc::PlacementGroupInfo& group) {
  Row row;
  row["placement_group_id"] = HexOf(group.placement_group_id());
  row["name"] = group.name();
  row["state"] = rpc::PlacementGroupInfo::State_Name(group.state());
  row["strategy"] = rpc::PlacementGroupInfo::Strategy_Name(group.strategy());
  Row bundles = Row::array();
  for (const auto& bundle : group.bundles()) {
    Row entry;
    entry["index"] = bundle.index();
    entry["resources"] = Row(std::map<std::string, double>(bundle.resources().begin(),
                                                           bundle.resources().end()));
    entry["node_id"] = HexOf(bundle.node_id());
    bundles.push_back(entry);
  }
  row["bundles"] = bundles;
  return row;
}

constexpr int64_t kTimeoutMs = 10000;

int Fail(const std::string& command, const std::string& message, int code = 1) {
  std::cerr << "lumen " << command << ": " << message << std::endl;
  return code;
}

// What the state commands read: the GCS (and, for workers, each raylet).
class Cluster {
 public:
  static absl::StatusOr<std::unique_ptr<Cluster>> Connect(const StatusRequest& target) {
    bool from_record = false;
    absl::StatusOr<std::string> address = ClusterAddress(target, from_record);
    if (!address.ok()) return address.status();
    absl::StatusOr<std::string> token = rpc::FindToken(target.token_file);
    if (!token.ok()) return token.status();
    return std::unique_ptr<Cluster>(new Cluster(*address, *token));
  }

  template <typename Reply>
  absl::StatusOr<Reply> Check(absl::StatusOr<Reply> reply) const {
    if (reply.ok()) return reply;
    if (absl::IsUnauthenticated(reply.status())) {
      return absl::PermissionDeniedError("the GCS at " + address_ +
                                         " refused the call: missing or wrong cluster token (--token-file, "
                                         "LUMEN_TOKEN or " + rpc::DefaultTokenPath() + ")");
    }
    return absl::UnavailableError("cannot reach the GCS at " + address_ + ": " +
                                  std::string(reply.status().message()));
  }

  absl::StatusOr<std::vector<rpc::NodeInfo>> Nodes() const {
    auto reply = Check(gcs_.CallSync(&rpc::GcsService::Stub::GetAllNodes, rpc::GetAllNodesRequest(), kTimeoutMs));
    if (!reply.ok()) return reply.status();
    return std::vector<rpc::NodeInfo>(reply->nodes().begin(), reply->nodes().end());
  }

  absl::StatusOr<std::vector<Row>> Rows(const std::string& kind, int64_t task_limit,
                                        rpc::GetTaskEventsReply* tasks_reply) const {
    std::vector<Row> rows;
    if (kind == "nodes" || kind == "workers") {
      ASSIGN_OR_RETURN(std::vector<rpc::NodeInfo> nodes, Nodes());
      for (const auto& node : nodes) {
        if (kind == "nodes") {
          rows.push_back(NodeRow(node));
        } else if (node.state() == rpc::NodeInfo::ALIVE) {
          RETURN_IF_ERROR(AddWorkers(node, rows));
        }
      }
    } else if (kind == "jobs") {
      auto reply = Check(gcs_.CallSync(&rpc::GcsService::Stub::GetAllJobs, rpc::GetAllJobsRequest(), kTimeoutMs));
      if (!reply.ok()) return reply.status();
      for (const auto& job : reply->jobs()) rows.push_back(JobRow(job));
    } else if (kind == "actors") {
      auto reply = Check(gcs_.CallSync(&rpc::GcsService::Stub::ListActors, rpc::ListActorsRequest(), kTimeoutMs));
      if (!reply.ok()) return reply.status();
      for (const auto& actor : reply->actors()) rows.push_back(ActorRow(actor));
    } else if (kind == "tasks") {
      rpc::GetTaskEventsRequest request;
      request.set_limit(task_limit);
      ASSIGN_OR_RETURN(*tasks_reply, Tasks(request));
      for (const auto& task : tasks_reply->tasks()) rows.push_back(TaskRow(task));
    } else if (kind == "placement-groups") {
      auto reply = Check(gcs_.CallSync(&rpc::GcsService::Stub::ListPlacementGroups,
                                       rpc::ListPlacementGroupsRequest(), kTimeoutMs));
      if (!reply.ok()) return reply.status();
      for (const auto& group : reply->groups()) rows.push_back(PlacementGroupRow(group));
    }
    return rows;
  }

  absl::StatusOr<rpc::GetTaskEventsReply> Tasks(const rpc::GetTaskEventsRequest& request) const {
    return Check(events_.CallSync(&rpc::TaskEventService::Stub::GetTaskEvents, request, kTimeoutMs));
  }

 private:
  Cluster(std::string address, std::string token)
      : address_(address), gcs_(address, token), events_(address, token), token_(std::move(token)) {}

  absl::Status AddWorkers(const rpc::NodeInfo& node, std::vector<Row>& rows) const {
    const std::string raylet = node.ip() + ":" + std::to_string(node.raylet_port());
    rpc::RpcClient<rpc::RayletService> client(raylet, token_);
    auto stats = client.CallSync(&rpc::RayletService::Stub::GetNodeStats, rpc::GetNodeStatsRequest(), kTimeoutMs);
    if (!stats.ok()) {
      return absl::UnavailableError("cannot reach the raylet of node " + HexOf(node.node_id()) + " at " + raylet +
                                    ": " + std::string(stats.status().message()));
    }
    for (const auto& worker : stats->workers()) rows.push_back(WorkerRow(worker, HexOf(node.node_id())));
    return absl::OkStatus();
  }

  std::string address_;
  mutable rpc::RpcClient<rpc::GcsService> gcs_;
  mutable rpc::RpcClient<rpc::TaskEventService> events_;
  std::string token_;
};

// "N task events lost: ..." when the GCS reports any; else empty.
std::string LostEvents(const rpc::GetTaskEventsReply& reply) {
  int64_t dropped = 0, evicted = 0;
  for (const auto& drops : reply.drops()) {
    dropped += drops.dropped_at_source();
    evicted += drops.evicted();
  }
  if (dropped == 0 && evicted == 0) return "";
  return "Task events lost: " + std::to_string(dropped) + " dropped by workers and drivers (buffer full), " +
         std::to_string(evicted) + " tasks evicted from the GCS's window.\n";
}

std::string Render(const std::string& format, const std::vector<std::string>& columns,
                   const std::vector<Row>& rows) {
  if (format == "json") return FormatJson(rows);
  if (format == "yaml") return FormatYaml(rows);
  return FormatTable(columns, rows);
}

std::string FormatOf(const StateRequest& request) {
  if (!request.format.empty()) return request.format;
  return request.detail ? "yaml" : "table";
}

// The kind named by the first word, or a one-line error.
absl::StatusOr<const KindSpec*> KindOf(const StateRequest& request, const std::string& command,
                                       size_t words, const std::vector<std::string>& allowed) {
  if (request.words.empty()) return absl::InvalidArgumentError("what to " + command + "? (one of: " + KindNames() + ")");
  if (request.words.size() > words) {
    return absl::InvalidArgumentError("unexpected argument \"" + request.words[words] + "\"");
  }
  const KindSpec* kind = FindKind(request.words[0]);
  if (kind == nullptr || std::find(allowed.begin(), allowed.end(), kind->name) == allowed.end()) {
    std::string names;
    for (const auto& n : allowed) names += (names.empty() ? "" : ", ") + n;
    return absl::InvalidArgumentError("unknown kind \"" + request.words[0] + "\" for `lumen " + command +
                                      "` (one of: " + names + ")");
  }
  return kind;
}

const std::vector<std::string> kListKinds = {"nodes", "jobs", "actors", "tasks", "workers", "placement-groups"};

}  // namespace

int RunList(const StateRequest& request, const StatusRequest& target) {
  auto kind = KindOf(request, "list", 1, kListKinds);
  if (!kind.ok()) return Fail("list", std::string(kind.status().message()), 2);
  auto filters = ParseFilters(**kind, request.filters);
  if (!filters.ok()) return Fail("list", std::string(filters.status().message()), 2);
  auto cluster = Cluster::Connect(target);
  if (!cluster.ok()) return Fail("list", std::string(cluster.status().message()));
  rpc::GetTaskEventsReply tasks;
  // With filters the GCS's limit would cut before them: filter everything.
  auto rows = (*cluster)->Rows((*kind)->name, filters->empty() ? request.limit : 0, &tasks);
  if (!rows.ok()) return Fail("list", std::string(rows.status().message()));
  std::vector<Row> shown;
  size_t matching = 0;
  for (Row& row : *rows) {
    if (!Matches(row, *filters)) continue;
    ++matching;
    shown.push_back(std::move(row));
  }
  if (shown.size() > static_cast<size_t>(request.limit)) {
    shown.erase(shown.begin(), shown.end() - request.limit);  // The most recent.
  }
  const int64_t total = (*kind)->name == "tasks" && filters->empty() ? tasks.total() : static_cast<int64_t>(matching);
  const std::string format = FormatOf(request);
  const std::vector<std::string>& columns = request.detail ? (*kind)->fields : (*kind)->table_columns;
  std::cout << Render(format, columns, shown);
  // Notes go where they cannot spoil JSON or YAML.
  std::ostream& notes = format == "table" ? std::cout : std::cerr;
  if (static_cast<int64_t>(shown.size()) < total) {
    notes << "(showing the last " << shown.size() << " of " << total << "; see --limit)\n";
  }
  notes << LostEvents(tasks) << std::flush;
  return 0;
}

int RunGet(const StateRequest& request, const StatusRequest& target) {
  auto kind = KindOf(request, "get", 2, {"nodes", "jobs", "actors", "tasks", "workers"});
  if (!kind.ok()) return Fail("get", std::string(kind.status().message()), 2);
  if (request.words.size() < 2) return Fail("get", "which one? give its id: lumen get " + (*kind)->name + " ID", 2);
  const std::string id = absl::AsciiStrToLower(request.words[1]);
  auto cluster = Cluster::Connect(target);
  if (!cluster.ok()) return Fail("get", std::string(cluster.status().message()));
  rpc::GetTaskEventsReply tasks;
  auto rows = (*cluster)->Rows((*kind)->name, 0, &tasks);
  if (!rows.ok()) return Fail("get", std::string(rows.status().message()));
  std::vector<Row> found;
  for (Row& row : *rows) {
    if (CellText(row, (*kind)->id_field).rfind(id, 0) == 0) found.push_back(std::move(row));
  }
  std::string singular = (*kind)->name.substr(0, (*kind)->name.size() - 1);
  if (found.empty()) return Fail("get", "no " + singular + " with id " + request.words[1]);
  // Several attempts of one task are one answer; several tasks are not.
  std::string first = CellText(found[0], (*kind)->id_field);
  for (const Row& row : found) {
    if (CellText(row, (*kind)->id_field) != first) {
      return Fail("get", "the id prefix " + request.words[1] + " matches several " + (*kind)->name +
                             "; give more of it");
    }
  }
  const std::string format = request.format.empty() ? "yaml" : request.format;
  if (format == "table") {
    std::cout << FormatTable((*kind)->fields, found, 1000);
  } else {
    std::cout << (format == "json" ? FormatJson(found.size() == 1 ? found[0] : Row(found))
                                   : FormatYaml(found.size() == 1 ? found[0] : Row(found)));
  }
  return 0;
}

int RunSummary(const StateRequest& request, const StatusRequest& target) {
  auto kind = KindOf(request, "summary", 1, {"tasks", "actors"});
  if (!kind.ok()) return Fail("summary", std::string(kind.status().message()), 2);
  auto cluster = Cluster::Connect(target);
  if (!cluster.ok()) return Fail("summary", std::string(cluster.status().message()));
  rpc::GetTaskEventsReply tasks;
  auto rows = (*cluster)->Rows((*kind)->name, 0, &tasks);
  if (!rows.ok()) return Fail("summary", std::string(rows.status().message()));
  const bool of_tasks = (*kind)->name == "tasks";
  std::vector<Row> summary = of_tasks ? SummarizeTasks(*rows) : SummarizeActors(*rows);
  const std::string format = request.format.empty() ? "table" : request.format;
  if (format == "table") {
    std::cout << (of_tasks ? "Tasks" : "Actors") << ": " << rows->size() << "\n"
              << FormatTable(of_tasks ? std::vector<std::string>{"func_or_class_name", "type", "total", "states"}
                                      : std::vector<std::string>{"class_name", "total", "states"},
                             summary)
              << LostEvents(tasks);
    return 0;
  }
  for (Row& row : summary) row.erase("states");
  Row out = {{"total", rows->size()}, {"summary", summary}};
  if (of_tasks) {
    int64_t dropped = 0, evicted = 0;
    for (const auto& d : tasks.drops()) {
      dropped += d.dropped_at_source();
      evicted += d.evicted();
    }
    out["events_dropped"] = dropped;
    out["tasks_evicted"] = evicted;
  }
  std::cout << (format == "json" ? FormatJson(out) : FormatYaml(out));
  return 0;
}

int RunTimeline(const StateRequest& request, const StatusRequest& target) {
  if (!request.words.empty()) return Fail("timeline", "unexpected argument \"" + request.words[0] + "\"", 2);
  if (request.output.empty()) return Fail("timeline", "give the trace file to write: -o trace.json", 2);
  rpc::GetTaskEventsRequest query;
  if (!request.job.empty()) {
    absl::StatusOr<JobId> job = JobId::FromHex(request.job);
    if (!job.ok()) return Fail("timeline", "--job must be a job id in hex (see `lumen list jobs`), got \"" + request.job + "\"", 2);
    query.set_job_id(job->Binary());
  }
  auto cluster = Cluster::Connect(target);
  if (!cluster.ok()) return Fail("timeline", std::string(cluster.status().message()));
  auto reply = (*cluster)->Tasks(query);
  if (!reply.ok()) return Fail("timeline", std::string(reply.status().message()));
  if (!request.job.empty() && reply->drops_size() == 0) return Fail("timeline", "no tasks of job " + request.job);
  nlohmann::json trace = ChromeTrace(std::vector<rpc::TaskInfoEntry>(reply->tasks().begin(), reply->tasks().end()));
  std::ofstream out(request.output, std::ios::trunc);
  out << trace.dump() << "\n";
  out.close();
  if (!out) return Fail("timeline", "cannot write " + request.output);
  std::cout << "Wrote " << trace["traceEvents"].size() << " trace events of " << reply->tasks_size() << " tasks to "
            << request.output << "; open it in chrome://tracing or https://ui.perfetto.dev\n"
            << LostEvents(*reply);
  return 0;
}

}  // namespace lumen::cli
