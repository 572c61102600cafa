#include "deploy/cli/commands.h"

#include <cstdlib>
#include <iostream>

#include "common/paths.h"
#include "common/rpc/auth.h"
#include "common/rpc/client.h"
#include "deploy/cli/status_format.h"
#include "deploy/readiness.h"
#include "proto/gcs.grpc.pb.h"

namespace lumen::cli {
namespace {

int Fail(const std::string& command, const std::string& message, int code = 1) {
  std::cerr << "lumen " << command << ": " << message << std::endl;
  return code;
}

// " --temp-dir D" when `lumen start` was given a temp dir other than the
// default, so the commands printed find this cluster as printed.
std::string TempDirFlag(const std::string& dir) {
  return dir.empty() || dir == DefaultTempDir() ? "" : " --temp-dir " + dir;
}

void PrintStarted(const deploy::StartedNode& node, bool head, bool block,
                  const std::string& temp_dir_flag) {
  std::cout << (head ? "Lumen head node started." : "Lumen worker node started.") << "\n"
            << "  GCS address:     " << node.gcs_address << "\n"
            << "  Raylet address:  " << node.raylet_address << "\n"
            << "  Session dir:     " << node.session_dir << "\n"
            << "  Logs:            " << node.session_dir << "/logs\n";
  if (!node.dashboard_address.empty()) {
    std::cout << "  Dashboard:       http://" << node.dashboard_address
              << "  (jobs: lumen job submit -- ./my_driver)\n";
  }
  if (head) {
    std::cout << "\nTo add another node to this cluster, run on it:\n"
              << "    lumen start --address=" << node.gcs_address << "\n"
              << "  (other machines also need this cluster's token: copy "
              << rpc::DefaultTokenPath() << " there or set LUMEN_TOKEN)\n"
              << "\nTo connect a driver program to this cluster, run it with:\n"
              << "    RAY_ADDRESS=" << node.gcs_address << " ./my_driver\n"
              << "  (ray::Init() reads RAY_ADDRESS; without it a driver starts a private cluster)\n"
              << "\nTo see the cluster:  lumen status" << temp_dir_flag << "\n";
  }
  if (block) {
    std::cout << "\n--block: running in the foreground; Ctrl-C or SIGTERM stops this node.\n";
  } else {
    std::cout << "To stop every Lumen process on this machine:  lumen stop\n";
  }
  std::cout << std::flush;
}

std::string TempDirOf(const StatusRequest& request) {
  return request.temp_dir.empty() ? DefaultTempDir() : request.temp_dir;
}

}  // namespace

int RunStart(const ParsedArgs& args) {
  absl::StatusOr<StartRequest> request = ToStartRequest(args);
  if (!request.ok()) return Fail("start", std::string(request.status().message()), 2);
  // Taken out of the environment before the daemons start (they inherit it).
  const deploy::SystemdNotifier notifier =
      request->block ? deploy::SystemdNotifier::FromEnvironment() : deploy::SystemdNotifier();
  absl::StatusOr<deploy::StartedNode> node = deploy::StartNode(request->node);
  if (!node.ok()) {
    const bool usage = absl::IsInvalidArgument(node.status());
    return Fail("start", std::string(node.status().message()), usage ? 2 : 1);
  }
  PrintStarted(*node, request->node.head, request->block, TempDirFlag(request->node.temp_dir));
  if (request->block) return RunForeground(*node, notifier);
  return 0;
}

int RunStop(const StopRequest& request) {
  // No --temp-dir: all of the user's clusters, like `ray stop`.
  const int stopped = deploy::StopAllLocal(request.temp_dir, request.force);
  std::cout << "Stopped " << stopped << " Lumen process" << (stopped == 1 ? "" : "es") << "."
            << std::endl;
  return 0;
}

absl::StatusOr<std::string> ClusterAddress(const StatusRequest& request, bool& from_record) {
  std::string address = request.address;
  if (address.empty()) {
    if (const char* env = std::getenv("RAY_ADDRESS"); env && *env && std::string(env) != "auto") {
      address = env;
    }
  }
  from_record = address.empty();
  if (address.empty()) return ReadCurrentCluster(TempDirOf(request));
  return address;
}

int RunStatus(const StatusRequest& request) {
  bool from_record = false;
  absl::StatusOr<std::string> address = ClusterAddress(request, from_record);
  if (!address.ok()) return Fail("status", std::string(address.status().message()));
  absl::StatusOr<std::string> token = rpc::FindToken(request.token_file);
  if (!token.ok()) return Fail("status", std::string(token.status().message()));
  auto nodes = deploy::GetAllNodes(*address, *token, 5000);
  if (!nodes.ok()) {
    if (absl::IsUnauthenticated(nodes.status())) {
      return Fail("status", "the GCS at " + *address +
                                " refused the call: missing or wrong cluster token (use the "
                                "head's token via --token-file, LUMEN_TOKEN or " +
                                rpc::DefaultTokenPath() + ")");
    }
    if (absl::IsFailedPrecondition(nodes.status())) {
      return Fail("status", std::string(nodes.status().message()));
    }
    if (from_record && absl::IsUnavailable(nodes.status())) {
      return Fail("status", "no running cluster: the head recorded in " + TempDirOf(request) +
                                "/lumen_current_cluster (" + *address +
                                ") does not answer; start one with `lumen start --head`, or "
                                "give --address");
    }
    return Fail("status", "cannot reach the GCS at " + *address + ": " +
                              std::string(nodes.status().message()));
  }
  rpc::RpcClient<rpc::GcsService> gcs(*address, *token);
  auto views = gcs.CallSync(&rpc::GcsService::Stub::GetClusterResources,
                            rpc::GetClusterResourcesRequest(), 5000);
  std::vector<rpc::ResourceView> view_list;
  if (views.ok()) view_list.assign(views->views().begin(), views->views().end());
  std::cout << FormatClusterStatus(*address, *nodes, view_list) << std::flush;
  return 0;
}

}  // namespace lumen::cli
