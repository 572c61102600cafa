// The ray::internal entry points and the process-wide runtime state.
#include "worker/runtime.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "absl/strings/str_split.h"
#include "common/logging.h"
#include "common/paths.h"
#include "common/process.h"
#include "common/rpc/auth.h"
#include "deploy/cli/cli_flags.h"
#include "deploy/launcher.h"
#include "ray/api/ray_config.h"
#include "ray/api/ray_exception.h"
#include "worker/core_worker.h"
#include "worker/function_registry.h"
#include "worker/log_forwarder.h"

namespace lumen::worker {
namespace {

struct Runtime {
  std::unique_ptr<deploy::StartedNode> local_cluster;
  std::unique_ptr<CoreWorker> core;
  std::unique_ptr<LogForwarder> logs;
  std::string raylet_address;
  std::string token;
};

std::mutex g_mu;
Runtime* g_runtime = nullptr;  // Guarded by g_mu for init/shutdown; read lock-free after.

CoreWorker& Core() {
  Runtime* rt = g_runtime;
  if (!rt || !rt->core) throw ray::internal::RayException("Lumen is not initialized: call ray::Init() first");
  return *rt->core;
}

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

[[noreturn]] void Fail(const std::string& what) { throw ray::internal::RayException(what); }

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

}  // namespace

bool IsWorkerProcess() { return Env("LUMEN_WORKER_MODE") == "1"; }

std::string LocalRayletAddress() { return g_runtime ? g_runtime->raylet_address : ""; }
std::string ClusterToken() { return g_runtime ? g_runtime->token : ""; }

void RunWorkerProcess() {
  InitLogging("lumen-worker");
  CoreWorkerOptions options;
  options.is_driver = false;
  options.job_id = JobId::FromHex(Env("LUMEN_JOB_ID")).value_or(JobId::Nil());
  options.worker_id = WorkerId::FromHex(Env("LUMEN_WORKER_ID")).value_or(WorkerId::FromRandom());
  options.gcs_address = Env("LUMEN_GCS_ADDRESS");
  options.raylet_address = Env("LUMEN_RAYLET_ADDRESS");
  options.node_ip = Env("LUMEN_NODE_IP").empty() ? DefaultNodeIp() : Env("LUMEN_NODE_IP");
  options.token = Env("LUMEN_TOKEN");
  auto core = CoreWorker::Start(options);
  if (!core.ok()) {
    LOG(ERROR) << "worker failed to start: " << core.status();
    std::_Exit(1);
  }
  auto* rt = new Runtime();
  rt->core = std::move(*core);
  g_runtime = rt;
  // Forward our output to the job's driver.
  rpc::GetJobRequest get_job;
  get_job.set_job_id(options.job_id.Binary());
  auto job = rt->core->gcs().CallSync(&rpc::GcsService::Stub::GetJob, get_job, 10000);
  if (job.ok() && job->found() && job->job().driver_address().port() != 0) {
    const auto& d = job->job().driver_address();
    auto driver = std::make_shared<CoreWorkerClient>(d.ip() + ":" + std::to_string(d.port()), options.token);
    std::string log_path = Env("LUMEN_SESSION_DIR") + "/logs/worker-" + options.worker_id.Hex() + "-" +
                           std::to_string(::getpid()) + ".out";
    TaskExecutor* executor = rt->core->executor();
    auto logs = LogForwarder::Start(
        log_path, [executor] { return executor->CurrentLogPrefix(); },
        [driver](std::vector<rpc::LogLine>&& lines) {
          rpc::PushLogsRequest request;
          for (auto& l : lines) *request.add_lines() = std::move(l);
          (void)driver->CallSync(&rpc::CoreWorkerService::Stub::PushLogs, request, 5000);
        });
    if (logs.ok()) rt->logs = std::move(*logs);
  }
  LogForwarder* logs = rt->logs.get();
  rt->core->executor()->Start([logs] {
    if (logs) logs->Drain(1000);
  });
  rt->core->WaitForExit();
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace lumen::worker

namespace ray::internal {

using lumen::worker::Core;

void RegisterFunction(const std::string& name, const void* fn_ptr, Invoker invoker) {
  lumen::worker::FunctionRegistry::Instance().Register(name, fn_ptr, std::move(invoker));
}

std::string FunctionName(const void* fn_ptr) {
  auto name = lumen::worker::FunctionRegistry::Instance().NameOf(fn_ptr);
  if (!name) {
    throw RayFunctionNotFound(
        "this function is not registered as a remote function: add RAY_REMOTE(<function>) "
        "next to its definition");
  }
  return *name;
}

void RuntimeInit(RayConfig& config, int argc, char** argv) {
  using namespace lumen;
  if (worker::IsWorkerProcess()) worker::RunWorkerProcess();
  std::lock_guard<std::mutex> lock(worker::g_mu);
  if (worker::g_runtime) return;  // Like ray.init(ignore_reinit_error=True).
  if (config.local_mode) throw RayException("local_mode is not supported by Lumen");
  InitLogging("lumen-driver");
  // A driver's terminal is the user's: only warnings and errors.
  if (worker::Env("GLOG_minloglevel").empty()) FLAGS_minloglevel = google::GLOG_WARNING;
  worker::ApplyArgv(config, argc, argv);
  auto rt = std::make_unique<worker::Runtime>();
  std::string address = !config.address.empty() ? config.address : worker::Env("RAY_ADDRESS");
  if (address == "auto") {
    auto current = ReadCurrentCluster(DefaultTempDir());
    if (!current.ok()) throw RayException(std::string(current.status().message()));
    address = *current;
  }
  worker::CoreWorkerOptions options;
  options.node_ip = DefaultNodeIp();
  if (address.empty()) {
    auto node = deploy::StartNode(worker::LocalClusterOptions(config));
    if (!node.ok()) throw RayException("cannot start a local cluster: " + node.status().ToString());
    rt->local_cluster = std::make_unique<deploy::StartedNode>(*node);
    options.gcs_address = node->gcs_address;
    options.raylet_address = node->raylet_address;
    options.token = node->token;
  } else {
    auto token = rpc::FindToken("");
    if (!token.ok()) throw RayException(std::string(token.status().message()));
    options.token = *token;
    options.gcs_address = address;
    options.raylet_address = worker::FindLocalRaylet(address, options.token, options.node_ip);
  }
  options.driver_executable = SelfExecutablePath();
  options.code_search_path = config.code_search_path;
  options.ray_namespace = config.ray_namespace;
  auto core = worker::CoreWorker::Start(options);
  if (!core.ok()) {
    if (rt->local_cluster) deploy::StopNode(*rt->local_cluster, true);
    throw RayException("ray::Init failed: " + core.status().ToString());
  }
  rt->core = std::move(*core);
  rt->raylet_address = options.raylet_address;
  rt->token = options.token;
  worker::g_runtime = rt.release();
}

bool RuntimeIsInitialized() { return lumen::worker::g_runtime != nullptr; }

void RuntimeShutdown() {
  std::lock_guard<std::mutex> lock(lumen::worker::g_mu);
  lumen::worker::Runtime* rt = lumen::worker::g_runtime;
  if (!rt) return;
  lumen::worker::g_runtime = nullptr;
  rt->core.reset();
  if (rt->local_cluster) lumen::deploy::StopNode(*rt->local_cluster, false);
  delete rt;
}

RefData SubmitTask(const std::string& function_name, std::vector<TaskArg>&& args,
                   const TaskOptions& options) {
  return Core().SubmitTask(function_name, std::move(args), options);
}

RefData PutObject(std::string&& data) { return Core().Put(std::move(data)); }

std::vector<std::shared_ptr<Buffer>> GetObjects(const RefList& refs, int64_t timeout_ms) {
  return Core().Get(refs, timeout_ms);
}

std::vector<bool> WaitObjects(const RefList& refs, int num_objects, int64_t timeout_ms) {
  return Core().Wait(refs, num_objects, timeout_ms);
}

void AddLocalRef(const RefData& ref) {
  if (lumen::worker::g_runtime) Core().AddLocalRef(ref);
}

void RemoveLocalRef(const std::string& id) {
  if (lumen::worker::g_runtime) Core().RemoveLocalRef(id);
}

std::string IdToHex(const std::string& id) {
  return lumen::BytesToHex(reinterpret_cast<const uint8_t*>(id.data()), id.size());
}

std::unordered_map<std::string, double> ClusterResources() { return Core().Resources(false); }
std::unordered_map<std::string, double> AvailableResources() { return Core().Resources(true); }

}  // namespace ray::internal
