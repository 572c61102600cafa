// Driver start-up and shutdown: flags, the private local cluster and its
// fate-sharing, joining a running cluster, and what SIGINT/SIGTERM do.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "absl/strings/numbers.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/net.h"
#include "common/paths.h"
#include "common/process.h"
#include "common/rpc/auth.h"
#include "common/rpc/retry.h"
#include "common/rpc/tls.h"
#include "deploy/cli/cli_flags.h"
#include "deploy/readiness.h"
#include "ray/api/ray_config.h"
#include "ray/api/ray_exception.h"
#include "worker/interrupt.h"
#include "worker/runtime_state.h"

namespace lumen::worker {
namespace {

[[noreturn]] void Fail(const std::string& what) { throw ray::internal::RayException(what); }

bool KeepSessionDir() { return Env("LUMEN_KEEP_SESSION_DIR") == "1"; }

}  // namespace

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

namespace {

deploy::NodeOptions LocalClusterOptions(const ray::RayConfig& config) {
  std::vector<std::string> args = {"start", "--head", "--port=0"};
  for (const auto& a : config.head_args) args.push_back(a);
  auto parsed = cli::ParseArgs(args);
  if (!parsed.ok()) Fail("bad head_args: " + std::string(parsed.status().message()));
  auto request = cli::ToStartRequest(*parsed);
  if (!request.ok()) Fail("bad head_args: " + std::string(request.status().message()));
  deploy::NodeOptions node = request->node;
  // A private cluster has no dashboard unless head_args ask for one: it
  // would cost a process start and a poll of the GCS for every driver run
  // (docs/dashboard.md).
  const bool dashboard_asked = std::any_of(config.head_args.begin(), config.head_args.end(),
                                           [](const std::string& a) {
                                             return a.find("include-dashboard") != std::string::npos;
                                           });
  if (!dashboard_asked) node.include_dashboard = false;
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
  // A private cluster serves this one driver on this one machine: it keeps
  // to loopback ($LUMEN_NODE_IP or 127.0.0.1) rather than the detected
  // address of a head (docs/operations.md), so that nothing of it listens
  // on the network.
  if (node.node_ip.empty()) node.node_ip = DefaultNodeIp();
  node.die_with_parent = true;
  node.fate_share_pid = ::getpid();
  node.write_current_cluster = false;  // Private: `lumen status` must not point at it.
  return node;
}

// True when `ip` is an address of this machine (we could bind to it).
bool IsLocalAddress(const std::string& ip) { return CheckPortFree(ip, 0).ok(); }

struct LocalNode {
  std::string ip;
  std::string raylet_address;
};

// Finds this machine's raylet among the cluster's alive nodes (docs/workers.md,
// "Which node a driver joins"): the node at $LUMEN_NODE_IP when that is set;
// else the one at the address this machine uses towards the GCS; else the
// first at any address of this machine.
LocalNode FindLocalRaylet(const std::string& gcs_address, const std::string& token) {
  // The first call to the cluster: a lost message is sent again.
  auto nodes = rpc::RetryLost([&] { return deploy::GetAllNodes(gcs_address, token, 10000); });
  if (absl::IsFailedPrecondition(nodes.status())) Fail(std::string(nodes.status().message()));
  if (!nodes.ok()) {
    Fail("cannot reach the cluster at " + gcs_address + ": " + std::string(nodes.status().message()));
  }
  std::vector<const rpc::NodeInfo*> alive;
  for (const auto& node : *nodes) {
    if (node.state() == rpc::NodeInfo::ALIVE) alive.push_back(&node);
  }
  const std::string forced = Env("LUMEN_NODE_IP");
  const std::string source = forced.empty() ? SourceAddressTowards(gcs_address) : forced;
  auto pick = [](const rpc::NodeInfo& node) {
    return LocalNode{node.ip(), node.ip() + ":" + std::to_string(node.raylet_port())};
  };
  for (const rpc::NodeInfo* node : alive) {
    if (node->ip() == source) return pick(*node);
  }
  if (forced.empty()) {
    for (const rpc::NodeInfo* node : alive) {
      if (IsLocalAddress(node->ip())) return pick(*node);
    }
    Fail("the cluster at " + gcs_address + " has no alive node on this machine: start one here " +
         "with `lumen start --address=" + gcs_address + "`");
  }
  Fail("the cluster at " + gcs_address + " has no alive node on " + forced +
       " (LUMEN_NODE_IP): start one here with `lumen start --address=" + gcs_address +
       " --node-ip-address=" + forced + "`, or unset LUMEN_NODE_IP");
}

// RayConfig's local-cluster settings make no sense when joining a running
// cluster (as in Ray, which refuses them too): the nodes are already sized.
void RefuseLocalSettings(const ray::RayConfig& config, const std::string& address) {
  std::vector<std::string> set;
  if (config.num_cpus >= 0) set.push_back("num_cpus");
  if (config.num_gpus >= 0) set.push_back("num_gpus");
  if (config.object_store_memory > 0) set.push_back("object_store_memory");
  if (!config.resources.empty()) set.push_back("resources");
  if (!config.head_args.empty()) set.push_back("head_args");
  if (set.empty()) return;
  Fail("RayConfig::" + absl::StrJoin(set, ", RayConfig::") +
       " size a private local cluster and cannot be set when connecting to an existing cluster (" +
       address + "); give them to `lumen start` on the cluster's nodes instead");
}

// The token of a driver joining a cluster: LUMEN_TOKEN, LUMEN_TOKEN_FILE or
// ~/.lumen/token (a driver has no --token-file flag).
std::string DriverToken() {
  auto token = rpc::FindToken("");
  if (token.ok()) return *token;
  if (!absl::IsNotFound(token.status())) Fail(std::string(token.status().message()));
  Fail("no cluster token: set LUMEN_TOKEN (the token) or LUMEN_TOKEN_FILE (a file holding it), "
       "or copy the head's " + rpc::DefaultTokenPath() + " to this machine");
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
  // TLS from LUMEN_TLS_CERT, LUMEN_TLS_KEY, LUMEN_TLS_CA (docs/security.md);
  // a private cluster started below inherits them.
  if (absl::Status tls = rpc::InitProcessTls(); !tls.ok()) Fail(std::string(tls.message()));
  auto rt = std::make_unique<Runtime>();
  std::string address = !config.address.empty() ? config.address : Env("RAY_ADDRESS");
  if (address == "auto") {
    auto current = ReadCurrentCluster(DefaultTempDir());
    if (!current.ok()) Fail(std::string(current.status().message()));
    address = *current;
  }
  CoreWorkerOptions options;
  options.node_ip = DefaultNodeIp();
  if (!address.empty()) RefuseLocalSettings(config, address);
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
    options.token = DriverToken();
    options.gcs_address = address;
    LocalNode local = FindLocalRaylet(address, options.token);
    options.node_ip = local.ip;
    options.raylet_address = local.raylet_address;
  }
  options.driver_executable = SelfExecutablePath();
  options.code_search_path = config.code_search_path;
  options.ray_namespace = config.ray_namespace;
  options.default_detached = config.default_actor_lifetime == ray::ActorLifetime::DETACHED;
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
