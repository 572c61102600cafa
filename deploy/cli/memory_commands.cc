// `lumen memory`, `lumen list objects`, `lumen summary objects`
// (deploy/cli/memory_format.h): every node from the GCS, every worker and
// driver from its raylet's GetNodeStats, then each one's GetReferences.
#include <iostream>

#include "common/rpc/auth.h"
#include "common/rpc/client.h"
#include "deploy/cli/commands.h"
#include "deploy/cli/memory_format.h"
#include "deploy/cli/state_request.h"
#include "proto/gcs.grpc.pb.h"
#include "proto/raylet.grpc.pb.h"
#include "proto/worker.grpc.pb.h"

namespace lumen::cli {
namespace {

constexpr int64_t kTimeoutMs = 10000;
// A busy or dying process: skipped with a note rather than waited for.
constexpr int64_t kWorkerTimeoutMs = 3000;

int Fail(const std::string& command, const std::string& message, int code = 1) {
  std::cerr << "lumen " << command << ": " << message << std::endl;
  return code;
}

// Every ref of every reachable worker and driver; a note on stderr for each
// one that did not answer.
absl::StatusOr<std::vector<Row>> FetchObjectRows(const StatusRequest& target) {
  bool from_record = false;
  absl::StatusOr<std::string> address = ClusterAddress(target, from_record);
  if (!address.ok()) return address.status();
  absl::StatusOr<std::string> token = rpc::FindToken(target.token_file);
  if (!token.ok()) return token.status();
  rpc::RpcClient<rpc::GcsService> gcs(*address, *token);
  auto nodes = gcs.CallSync(&rpc::GcsService::Stub::GetAllNodes, rpc::GetAllNodesRequest(), kTimeoutMs);
  if (!nodes.ok()) {
    return absl::UnavailableError("cannot reach the GCS at " + *address + ": " +
                                  std::string(nodes.status().message()));
  }
  std::vector<Row> rows;
  for (const auto& node : nodes->nodes()) {
    if (node.state() != rpc::NodeInfo::ALIVE) continue;
    const std::string raylet = node.ip() + ":" + std::to_string(node.raylet_port());
    rpc::RpcClient<rpc::RayletService> client(raylet, *token);
    auto stats = client.CallSync(&rpc::RayletService::Stub::GetNodeStats, rpc::GetNodeStatsRequest(), kTimeoutMs);
    if (!stats.ok()) {
      std::cerr << "(skipped node " << HexOf(node.node_id()).substr(0, 12) << ": cannot reach its raylet at "
                << raylet << ": " << stats.status().message() << ")\n";
      continue;
    }
    for (const auto& worker : stats->workers()) {
      if (worker.port() == 0) continue;  // Starting: not serving yet.
      RefProcess process{node.ip(), worker.pid(), worker.is_driver(), HexOf(worker.worker_id())};
      const std::string at = node.ip() + ":" + std::to_string(worker.port());
      rpc::RpcClient<rpc::CoreWorkerService> peer(at, *token);
      auto refs = peer.CallSync(&rpc::CoreWorkerService::Stub::GetReferences, rpc::GetReferencesRequest(),
                                kWorkerTimeoutMs);
      if (!refs.ok()) {
        std::cerr << "(skipped " << (worker.is_driver() ? "driver" : "worker") << " pid " << worker.pid()
                  << " at " << at << ": " << refs.status().message() << ")\n";
        continue;
      }
      for (Row& row : ObjectRows(process, *refs)) rows.push_back(std::move(row));
    }
  }
  return rows;
}

std::string Render(const std::string& format, const std::vector<std::string>& columns,
                   const std::vector<Row>& rows) {
  if (format == "json") return FormatJson(rows);
  if (format == "yaml") return FormatYaml(rows);
  return FormatTable(columns, rows);
}

}  // namespace

int RunMemory(const StateRequest& request, const StatusRequest& target) {
  if (!request.words.empty()) return Fail("memory", "unexpected argument \"" + request.words[0] + "\"", 2);
  auto rows = FetchObjectRows(target);
  if (!rows.ok()) return Fail("memory", std::string(rows.status().message()));
  if (request.format == "json" || request.format == "yaml") {
    std::cout << Render(request.format, {}, *rows) << std::flush;
  } else {
    std::cout << FormatMemory(*rows) << std::flush;
  }
  return 0;
}

int RunListObjects(const StateRequest& request, const StatusRequest& target) {
  if (request.words.size() > 1) return Fail("list", "unexpected argument \"" + request.words[1] + "\"", 2);
  auto filters = ParseFilters(ObjectsKind(), request.filters);
  if (!filters.ok()) return Fail("list", std::string(filters.status().message()), 2);
  auto rows = FetchObjectRows(target);
  if (!rows.ok()) return Fail("list", std::string(rows.status().message()));
  std::vector<Row> shown;
  size_t matching = 0;
  for (Row& row : *rows) {
    if (!Matches(row, *filters)) continue;
    ++matching;
    if (static_cast<int64_t>(shown.size()) < request.limit) shown.push_back(std::move(row));
  }
  const std::string format = !request.format.empty() ? request.format : request.detail ? "yaml" : "table";
  const std::vector<std::string>& columns = request.detail ? ObjectsKind().fields : ObjectsKind().table_columns;
  std::cout << Render(format, columns, shown) << std::flush;
  if (shown.size() < matching) {
    std::cerr << "(showing " << shown.size() << " of " << matching << "; see --limit)\n";
  }
  return 0;
}

int RunSummaryObjects(const StateRequest& request, const StatusRequest& target) {
  if (request.words.size() > 1) return Fail("summary", "unexpected argument \"" + request.words[1] + "\"", 2);
  auto rows = FetchObjectRows(target);
  if (!rows.ok()) return Fail("summary", std::string(rows.status().message()));
  const std::string format = request.format.empty() ? "table" : request.format;
  std::cout << Render(format, {"group", "name", "refs", "bytes"}, SummarizeObjects(*rows)) << std::flush;
  return 0;
}

}  // namespace lumen::cli
