// Driver start-up and shutdown: flags, the private local cluster and its
// fate-sharing, joining a running cluster, and what SIGINT/SIGTERM do.
#include <unistd.h>

#include <cstdlib>
#include <optional>

#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/paths.h"
#include "common/process.h"
#include "common/rpc/auth.h"
#include "deploy/cli/cli_flags.h"
#include "ray/api/ray_config.h"
#include "ray/api/ray_exception.h"
#include "worker/interrupt.h"
#include "worker/runtime_state.h"

namespace lumen::worker {
namespace {

[[noreturn]] void Fail(const std::string& what) { throw ray::internal::RayException(what); }

bool KeepSessionDir() { return Env("LUMEN_KEEP_SESSION_DIR") == "1"; }

// Ray's C++ driver flags: --ray_address=, --ray_code_search_path=, ...
void ApplyArgv(ray::RayConfig& config, int argc, char** argv) {
  for (int i = 1; i < argc && argv; ++i) {
    std::string arg = argv[i];
    auto value_of = [&](const std::string& flag) -> std::optional<std::string> {
      if (arg.rfind(flag + "=", 0) == 0) return arg.substr(flag.size() + 1);
      return std::nullopt;
    };
    if (auto v = value_of("--ray_address")) config.address = *v;
    if (auto v = value_of("--ray_code_search_path"))
      config.code_search_path = absl::StrSplit(*v, ':', absl::SkipEmpty());
    if (auto v = value_of("--ray_namespace")) config.ray_namespace = *v;
    if (auto v = value_of("--ray_redis_password")) config.redis_password_ = *v;
  }
}

deploy::NodeOptions LocalClusterOptions(const ray::RayConfig& config) {
  std::vector<std::string> args = {"start", "--head", "--port=0"};
  for (const auto& a : config.head_args) args.push_back(a);
  auto parsed = cli::ParseArgs(args);
  if (!parsed.ok()) Fail("bad head_args: " + std::string(parsed.status().message()));
  auto request = cli::ToStartRequest(*parsed);
  if (!request.ok()) Fail("bad head_args: " + std::string(request.status().message()));
  deploy::NodeOptions node = request->node;
  if (config.num_cpus >= 0) node.num_cpus = config.num_cpus;
  if (config.num_gpus >= 0) node.num_gpus = config.num_gpus;
  if (config.object_store_memory > 0) node.object_store_memory = config.object_store_memory;
  if (!config.resources.empty()) {
    std::string json = "{";
    for (const auto& [name, amount] : config.resources) {
      if (json.size() > 1) json += ",";
      json += "\"" + name + "\":" + std::to_string(amount);
    }
    node.resources_json = json + "}";
  }
  node.die_with_parent = true;
  node.fate_share_pid = ::getpid();
  node.write_current_cluster = false;  // Private: `lumen status` must not point at it.
  return node;
}

// Finds this machine's raylet among the cluster's alive nodes.
std::string FindLocalRaylet(const std::string& gcs_address, const std::string& token,
                            const std::string& node_ip) {
  rpc::RpcClient<rpc::GcsService> gcs(gcs_address, token);
  auto nodes = gcs.CallSync(&rpc::GcsService::Stub::GetAllNodes, rpc::GetAllNodesRequest(), 10000);
  if (!nodes.ok()) Fail("cannot reach the cluster at " + gcs_address + ": " + nodes.status().ToString());
  for (const auto& node : nodes->nodes()) {
    if (node.state() == rpc::NodeInfo::ALIVE && node.ip() == node_ip) {
      return node.ip() + ":" + std::to_string(node.raylet_port());
    }
  }
  Fail("the cluster at " + gcs_address + " has no alive node on " + node_ip +
       ": start one here with `lumen start --address=" + gcs_address + "`");
}

// On SIGINT/SIGTERM (watcher thread): the private cluster goes at once,
// SIGKILL to each daemon's group (the raylet's workers follow their raylet).
// Nothing here waits for the threads the signal interrupted.
void StopClusterNow(const deploy::StartedNode* node) {
  if (!node) return;
  deploy::StopNode(*node, /*force=*/true);
  if (!KeepSessionDir()) deploy::RemoveSessionDir(*node);
}

}  // namespace

std::unique_ptr<Runtime> StartDriver(ray::RayConfig& config, int argc, char** argv) {
  RememberSignalActions();
  InitLogging("lumen-driver");
  // A driver's terminal is the user's: only warnings and errors.
  if (Env("GLOG_minloglevel").empty()) FLAGS_minloglevel = google::GLOG_WARNING;
  InstallInterruptHandlers(nullptr);
  ApplyArgv(config, argc, argv);
  auto rt = std::make_unique<Runtime>();
  std::string address = !config.address.empty() ? config.address : Env("RAY_ADDRESS");
  if (address == "auto") {
    auto current = ReadCurrentCluster(DefaultTempDir());
    if (!current.ok()) Fail(std::string(current.status().message()));
    address = *current;
  }
  CoreWorkerOptions options;
  options.node_ip = DefaultNodeIp();
  if (address.empty()) {
    auto node = deploy::StartNode(LocalClusterOptions(config));
    if (!node.ok()) Fail("cannot start a local cluster: " + node.status().ToString());
    rt->local_cluster = std::make_unique<deploy::StartedNode>(*node);
    const deploy::StartedNode* started = rt->local_cluster.get();
    InstallInterruptHandlers([started] { StopClusterNow(started); });
    options.gcs_address = node->gcs_address;
    options.raylet_address = node->raylet_address;
    options.token = node->token;
  } else {
    auto token = rpc::FindToken("");
    if (!token.ok()) Fail(std::string(token.status().message()));
    options.token = *token;
    options.gcs_address = address;
    options.raylet_address = FindLocalRaylet(address, options.token, options.node_ip);
  }
  options.driver_executable = SelfExecutablePath();
  options.code_search_path = config.code_search_path;
  options.ray_namespace = config.ray_namespace;
  auto core = CoreWorker::Start(options);
  if (!core.ok()) {
    InstallInterruptHandlers(nullptr);
    if (rt->local_cluster) {
      deploy::StopNode(*rt->local_cluster, true);
      if (!KeepSessionDir()) deploy::RemoveSessionDir(*rt->local_cluster);
    }
    Fail("ray::Init failed: " + core.status().ToString());
  }
  rt->core = std::move(*core);
  rt->raylet_address = options.raylet_address;
  rt->token = options.token;
  return rt;
}

void StopDriver(std::unique_ptr<Runtime> rt) {
  rt->core.reset();
  if (rt->local_cluster) {
    InstallInterruptHandlers(nullptr);  // Stopping already: a signal now just ends us.
    deploy::StopNode(*rt->local_cluster, false);
    if (!KeepSessionDir()) deploy::RemoveSessionDir(*rt->local_cluster);
  }
}

}  // namespace lumen::worker
