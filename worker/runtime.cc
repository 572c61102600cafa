// The ray::internal entry points and the process-wide runtime state.
#include "worker/runtime.h"

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <mutex>

#include "common/id.h"
#include "ray/api/ray_config.h"
#include "ray/api/ray_exception.h"
#include "worker/function_registry.h"
#include "worker/interrupt.h"
#include "worker/local_runtime.h"
#include "worker/runtime_state.h"

namespace lumen::worker {

std::mutex g_mu;
Runtime* g_runtime = nullptr;

namespace {

// Runs an API call. An error met while a SIGINT/SIGTERM is tearing the
// process down (the cluster going away under a blocked Get) is not the
// user's to handle: the thread waits for the signal to end the process.
template <typename F>
auto Guarded(F&& call) -> decltype(call()) {
  try {
    return call();
  } catch (...) {
    if (InterruptInProgress()) WaitForInterruptToEnd();
    throw;
  }
}

// What a failed ray::Init throws: a RayException like any other, and
// recognised by the terminate handler below when nothing catches it.
class InitFailure : public ray::internal::RayException {
 public:
  using RayException::RayException;
};

std::terminate_handler g_previous_terminate = nullptr;

// A ray::Init failure that nothing catches ends the program with its one-line
// cause on stderr and exit status 1, not an abort with a stack trace.
// Everything else goes to the handler that was there before.
void TerminateOnInitFailure() {
  if (std::exception_ptr current = std::current_exception()) {
    try {
      std::rethrow_exception(current);
    } catch (const InitFailure& e) {
      std::fprintf(stderr, "ray::Init failed: %s\n", e.what());
      std::fflush(stderr);
      std::_Exit(1);
    } catch (...) {
    }
  }
  if (g_previous_terminate) g_previous_terminate();
  std::abort();
}

CoreWorker& Core() {
  Runtime* rt = g_runtime;
  if (!rt || !rt->core) throw ray::internal::RayException("Lumen is not initialized: call ray::Init() first");
  return *rt->core;
}

}  // namespace

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

bool IsWorkerProcess() { return Env("LUMEN_WORKER_MODE") == "1"; }

std::string LocalRayletAddress() { return g_runtime ? g_runtime->raylet_address : ""; }
std::string ClusterToken() { return g_runtime ? g_runtime->token : ""; }

void SetTaskEventRecording(bool on) {
  if (Runtime* rt = g_runtime; rt && rt->core) rt->core->task_events()->SetRecording(on);
}

void FlushTaskEvents() {
  if (Runtime* rt = g_runtime; rt && rt->core) rt->core->task_events()->FlushNow();
}

int64_t TaskEventsDropped() {
  Runtime* rt = g_runtime;
  return rt && rt->core ? rt->core->task_events()->dropped_total() : 0;
}

RuntimeStats GetRuntimeStats() {
  RuntimeStats stats;
  if (LocalRuntime* local = ActiveLocalRuntime()) {
    stats.objects_in_store = local->ObjectCount();
    return stats;
  }
  Runtime* rt = g_runtime;
  if (!rt || !rt->core) return stats;
  CoreWorker::Stats core = rt->core->GetStats();
  stats.objects_in_store = core.objects_in_store;
  stats.references = core.references;
  stats.tasks_in_flight = core.tasks_in_flight;
  stats.borrower_waits = core.borrower_waits;
  if (rt->local_cluster) {
    stats.session_dir = rt->local_cluster->session_dir;
    for (const auto& [name, pid] : rt->local_cluster->daemons) stats.daemon_pids.push_back(pid);
  }
  return stats;
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

void RegisterActorFactory(const std::string& name, ActorFactory factory) {
  lumen::worker::FunctionRegistry::Instance().RegisterFactory(name, std::move(factory));
}

void RegisterActorMethod(const std::string& name, const std::string& key, MethodInvoker invoker) {
  lumen::worker::FunctionRegistry::Instance().RegisterMethod(name, key, std::move(invoker));
}

std::string MethodName(const std::string& key) {
  auto name = lumen::worker::FunctionRegistry::Instance().MethodNameOf(key);
  if (!name) {
    throw RayFunctionNotFound(
        "this member function is not registered as an actor method: add "
        "RAY_REMOTE(&Class::Method) next to the class");
  }
  return *name;
}

void RuntimeInit(RayConfig& config, int argc, char** argv) {
  using namespace lumen;
  if (worker::IsWorkerProcess()) worker::RunWorkerProcess();
  std::lock_guard<std::mutex> lock(worker::g_mu);
  // Like ray.init(ignore_reinit_error=True).
  if (worker::g_runtime || worker::ActiveLocalRuntime()) return;
  static std::once_flag handler_once;
  std::call_once(handler_once, [] {
    worker::g_previous_terminate = std::set_terminate(worker::TerminateOnInitFailure);
  });
  try {
    if (config.local_mode) {  // Everything in this process (worker/local_runtime.h).
      worker::ApplyArgv(config, argc, argv);
      worker::StartLocalMode(config);
      return;
    }
    worker::g_runtime = worker::StartDriver(config, argc, argv).release();
  } catch (const RayException& e) {
    throw worker::InitFailure(e.what());
  }
}

bool RuntimeIsInitialized() {
  return lumen::worker::g_runtime != nullptr || lumen::worker::ActiveLocalRuntime() != nullptr;
}

void RuntimeShutdown() {
  std::lock_guard<std::mutex> lock(lumen::worker::g_mu);
  lumen::worker::StopLocalMode();
  lumen::worker::Runtime* rt = lumen::worker::g_runtime;
  if (!rt) return;
  lumen::worker::g_runtime = nullptr;
  lumen::worker::StopDriver(std::unique_ptr<lumen::worker::Runtime>(rt));
}

namespace {
// The holds MakeTaskArg took on the refs inside arguments, given back once
// a local-mode call (which runs at once) has returned.
class NestedHolds {
 public:
  NestedHolds(lumen::worker::LocalRuntime* local, const std::vector<TaskArg>& args) : local_(local) {
    for (const auto& arg : args) {
      for (const auto& ref : arg.nested) ids_.push_back(ref.id);
    }
  }
  ~NestedHolds() {
    for (const auto& id : ids_) local_->RemoveLocalRef(id);
  }

 private:
  lumen::worker::LocalRuntime* local_;
  std::vector<std::string> ids_;
};
}  // namespace

RefData SubmitTask(const std::string& function_name, std::vector<TaskArg>&& args,
                   const TaskOptions& options) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) {
    NestedHolds holds(local, args);
    return local->SubmitTask(function_name, std::move(args), options);
  }
  return lumen::worker::Guarded(
      [&] { return Core().SubmitTask(function_name, std::move(args), options); });
}

RefData PutObject(std::string&& data) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->Put(std::move(data));
  return lumen::worker::Guarded([&] { return Core().Put(std::move(data)); });
}

std::vector<std::shared_ptr<Buffer>> GetObjects(const RefList& refs, int64_t timeout_ms) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->Get(refs);  // Everything is ready.
  return lumen::worker::Guarded([&] { return Core().Get(refs, timeout_ms); });
}

std::vector<bool> WaitObjects(const RefList& refs, int num_objects, int64_t timeout_ms) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->Wait(refs);
  return lumen::worker::Guarded([&] { return Core().Wait(refs, num_objects, timeout_ms); });
}

void AddLocalRef(const RefData& ref) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->AddLocalRef(ref);
  if (lumen::worker::g_runtime) Core().AddLocalRef(ref);
}

void RemoveLocalRef(const std::string& id) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->RemoveLocalRef(id);
  if (lumen::worker::g_runtime) Core().RemoveLocalRef(id);
}

std::string IdToHex(const std::string& id) {
  return lumen::BytesToHex(reinterpret_cast<const uint8_t*>(id.data()), id.size());
}

std::unordered_map<std::string, double> ClusterResources() {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->Resources();
  return lumen::worker::Guarded([] { return Core().Resources(false); });
}

std::string CreateActor(const std::string& factory_name, std::vector<TaskArg>&& args,
                        const ActorOptions& options) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) {
    NestedHolds holds(local, args);
    return local->CreateActor(factory_name, std::move(args), options);
  }
  return lumen::worker::Guarded(
      [&] { return Core().CreateActor(factory_name, std::move(args), options); });
}

RefData SubmitActorTask(const std::string& actor_id, const std::string& method_name,
                        std::vector<TaskArg>&& args, const TaskOptions& options) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) {
    NestedHolds holds(local, args);
    return local->SubmitActorTask(actor_id, method_name, std::move(args));
  }
  return lumen::worker::Guarded(
      [&] { return Core().SubmitActorTask(actor_id, method_name, std::move(args), options); });
}

void KillActor(const std::string& actor_id, bool no_restart) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->KillActor(actor_id);  // No restarts.
  lumen::worker::Guarded([&] { Core().KillActor(actor_id, no_restart); });
}

std::string GetActorId(const std::string& name, const std::string& ray_namespace) {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->GetActorId(name, ray_namespace);
  return lumen::worker::Guarded([&] { return Core().GetActorId(name, ray_namespace); });
}

void ExitActor() {
  if (lumen::worker::ActiveLocalRuntime()) lumen::worker::LocalRuntime::ExitActor();
  if (!lumen::worker::g_runtime || Core().executor() == nullptr ||
      Core().executor()->actor_id().empty()) {
    throw RayException("ray::ExitActor() may only be called inside an actor's method");
  }
  throw lumen::worker::ActorExitSignal();
}

bool WasCurrentActorRestarted() {
  if (lumen::worker::ActiveLocalRuntime()) return false;  // Local mode never restarts one.
  return lumen::worker::Guarded([] { return Core().WasCurrentActorRestarted(); });
}

std::string GetNamespace() {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->Namespace();
  return lumen::worker::Guarded([] { return Core().GetNamespace(); });
}
std::unordered_map<std::string, double> AvailableResources() {
  if (auto* local = lumen::worker::ActiveLocalRuntime()) return local->Resources();
  return lumen::worker::Guarded([] { return Core().Resources(true); });
}

}  // namespace ray::internal
