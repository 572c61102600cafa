// LocalRuntime's sessions, objects and tasks; actors are in local_actors.cc.
#include "worker/local_runtime.h"

#include <unistd.h>

#include <algorithm>
#include <thread>
#include <typeinfo>

#include "ray/api/ray_config.h"
#include "ray/api/ray_exception.h"
#include "worker/function_registry.h"
#include "worker/local_runtime_internal.h"
#include "worker/task_env.h"

namespace lumen::worker {
namespace {

class SharedStringBuffer : public ray::internal::Buffer {
 public:
  explicit SharedStringBuffer(std::shared_ptr<const std::string> data) : data_(std::move(data)) {}
  const char* data() const override { return data_->data(); }
  size_t size() const override { return data_->size(); }

 private:
  std::shared_ptr<const std::string> data_;
};

std::atomic<LocalRuntime*> g_local{nullptr};

LocalRuntime& ProcessLocalRuntime() {
  static LocalRuntime* runtime = new LocalRuntime();  // Never destroyed: see ActiveLocalRuntime.
  return *runtime;
}

[[noreturn]] void ThrowError(const LocalRuntime::Outcome& outcome) {
  using Kind = LocalRuntime::ErrorKind;
  switch (outcome.kind) {
    case Kind::kTask:
      throw ray::internal::RayTaskException(outcome.error);
    case Kind::kActorDied:
      throw ray::internal::RayActorException(outcome.error);
    case Kind::kFunctionNotFound:
      throw ray::internal::RayFunctionNotFound(outcome.error);
    case Kind::kLost:
      throw ray::internal::UnreconstructableException(outcome.error);
    case Kind::kNone:
      break;
  }
  throw ray::internal::RayException(outcome.error);
}

std::string NotInStore(const std::string& id) {
  return "object " + ObjectId::FromBinaryOrNil(id).Hex() +
         " is not in the local-mode store: it was freed (no ObjectRef to it was alive) or comes "
         "from another session";
}

}  // namespace

namespace local_internal {

thread_local std::vector<const void*> t_frames;

std::string Where(const std::string& function_name) {
  return function_name + " (pid=" + std::to_string(::getpid()) + ", local mode)";
}

LocalRuntime::Outcome Error(LocalRuntime::ErrorKind kind, std::string message) {
  LocalRuntime::Outcome outcome;
  outcome.kind = kind;
  outcome.error = std::move(message);
  return outcome;
}

LocalRuntime::Outcome TaskThrew(const std::string& function_name, const std::string& type,
                                const std::string& what) {
  return Error(LocalRuntime::ErrorKind::kTask,
               "task " + Where(function_name) + " threw " + type + ": " + what);
}

LocalRuntime::Outcome RunUserCode(const std::string& function_name,
                                  const std::function<std::string()>& call) {
  try {
    LocalRuntime::Outcome outcome;
    outcome.value = std::make_shared<const std::string>(call());
    return outcome;
  } catch (const std::exception& e) {
    return TaskThrew(function_name, DemangledTypeName(typeid(e).name()), e.what());
  } catch (const ActorExit&) {
    throw;  // For the actor's call to handle.
  } catch (...) {
    return TaskThrew(function_name, "unknown exception", "(not a std::exception)");
  }
}

}  // namespace local_internal

using namespace local_internal;

LocalRuntime::~LocalRuntime() { Stop(); }

void LocalRuntime::Start(LocalRuntimeOptions options) {
  if (options.ray_namespace.empty()) {
    options.ray_namespace = "anonymous-" + WorkerId::FromRandom().Hex().substr(0, 16);
  }
  absl::MutexLock lock(&mu_);
  active_ = true;
  ++session_;
  options_ = std::move(options);
}

void LocalRuntime::Stop() {
  absl::flat_hash_map<std::string, Object> objects;
  absl::flat_hash_map<std::string, std::shared_ptr<Actor>> actors;
  {
    absl::MutexLock lock(&mu_);
    active_ = false;
    ++session_;
    objects.swap(objects_);
    actors.swap(actors_);
    names_.clear();
  }
  // Actor instances die here, outside the lock: their destructors are user
  // code, which may drop ObjectRefs (a no-op now) or call the API (which
  // says Lumen is not initialized).
}

void LocalRuntime::CheckActiveLocked() const {
  if (!active_) throw ray::internal::RayException("Lumen is not initialized: call ray::Init() first");
}

LocalRuntime::Resolved LocalRuntime::Resolve(std::vector<ray::internal::TaskArg>& args,
                                             uint64_t* session) {
  Resolved resolved;
  resolved.values.reserve(args.size());
  absl::MutexLock lock(&mu_);
  CheckActiveLocked();
  *session = session_;
  for (auto& arg : args) {
    if (!arg.is_ref) {
      resolved.values.push_back(std::make_shared<const std::string>(std::move(arg.value)));
      continue;
    }
    auto it = objects_.find(arg.ref.id);
    if (it == objects_.end() || it->second.outcome.kind != ErrorKind::kNone) {
      resolved.error = std::make_unique<Outcome>(
          it == objects_.end() ? Error(ErrorKind::kLost, NotInStore(arg.ref.id)) : it->second.outcome);
      return resolved;
    }
    resolved.values.push_back(it->second.outcome.value);
  }
  for (const auto& v : resolved.values) resolved.views.push_back({v->data(), v->size()});
  return resolved;
}

ray::internal::RefData LocalRuntime::Store(Outcome outcome, uint64_t session) {
  std::string id = ObjectId::FromIndex(TaskId::ForNormalTask(job_), 1).Binary();
  absl::MutexLock lock(&mu_);
  if (!active_ || session != session_) {
    throw ray::internal::RayException("ray::Shutdown() ran while this call ran: its result is dropped");
  }
  objects_[id].outcome = std::move(outcome);
  return {std::move(id), ""};
}

ray::internal::RefData LocalRuntime::SubmitTask(const std::string& function_name,
                                                std::vector<ray::internal::TaskArg>&& args,
                                                const ray::internal::TaskOptions& options) {
  uint64_t session;
  Resolved resolved = Resolve(args, &session);
  if (resolved.error) return Store(std::move(*resolved.error), session);
  auto invoker = FunctionRegistry::Instance().Find(function_name);
  if (!invoker) {
    return Store(Error(ErrorKind::kFunctionNotFound,
                       "remote function '" + function_name +
                           "' is not registered in this process: register it with RAY_REMOTE in "
                           "the driver executable or a library on the code search path [task " +
                           Where(function_name) + "]"),
                 session);
  }
  auto vars = EnvVarsOf(options.runtime_env_json);
  if (!vars.ok()) {
    return Store(TaskThrew(function_name, "ray::internal::RayRuntimeEnvException",
                           std::string(vars.status().message())),
                 session);
  }
  Outcome outcome;
  {
    ScopedEnv env(*vars);
    Frame frame(nullptr);
    outcome = RunUserCode(function_name, [&] { return (*invoker)(resolved.views); });
  }
  resolved = Resolved();  // The arguments' bytes, before the result is stored.
  return Store(std::move(outcome), session);
}

ray::internal::RefData LocalRuntime::Put(std::string&& data) {
  Outcome outcome;
  outcome.value = std::make_shared<const std::string>(std::move(data));
  uint64_t session;
  {
    absl::MutexLock lock(&mu_);
    CheckActiveLocked();
    session = session_;
  }
  return Store(std::move(outcome), session);
}

std::vector<std::shared_ptr<ray::internal::Buffer>> LocalRuntime::Get(
    const ray::internal::RefList& refs) {
  std::vector<std::shared_ptr<ray::internal::Buffer>> buffers;
  buffers.reserve(refs.size());
  absl::MutexLock lock(&mu_);
  CheckActiveLocked();
  for (const ray::internal::RefData* ref : refs) {
    auto it = objects_.find(ref->id);
    if (it == objects_.end()) throw ray::internal::UnreconstructableException(NotInStore(ref->id));
    if (it->second.outcome.kind != ErrorKind::kNone) ThrowError(it->second.outcome);
    buffers.push_back(std::make_shared<SharedStringBuffer>(it->second.outcome.value));
  }
  return buffers;
}

std::vector<bool> LocalRuntime::Wait(const ray::internal::RefList& refs) {
  absl::MutexLock lock(&mu_);
  CheckActiveLocked();
  // Everything ran at submission; an id not in the store is ready too (its
  // Get says why it has no value), as an object whose task failed is.
  return std::vector<bool>(refs.size(), true);
}

void LocalRuntime::AddLocalRef(const ray::internal::RefData& ref) {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(ref.id);
  if (it != objects_.end()) ++it->second.refs;
}

void LocalRuntime::RemoveLocalRef(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(id);
  if (it != objects_.end() && --it->second.refs <= 0) objects_.erase(it);
}

std::unordered_map<std::string, double> LocalRuntime::Resources() const {
  absl::MutexLock lock(&mu_);
  CheckActiveLocked();
  return options_.resources;
}

std::string LocalRuntime::Namespace() const {
  absl::MutexLock lock(&mu_);
  CheckActiveLocked();
  return options_.ray_namespace;
}

size_t LocalRuntime::ObjectCount() const {
  absl::MutexLock lock(&mu_);
  return objects_.size();
}

LocalRuntime* ActiveLocalRuntime() { return g_local.load(std::memory_order_acquire); }

void StartLocalMode(const ray::RayConfig& config) {
  auto refuse = [](const std::string& what) {
    throw ray::internal::RayException(
        "local_mode runs tasks and actors inside this process, without a cluster, but " + what +
        ": leave it unset, or set local_mode = false");
  };
  if (!config.address.empty()) refuse("the config names a cluster (address '" + config.address + "')");
  if (!config.head_args.empty()) refuse("head_args are set (flags for a cluster's head)");
  if (!config.code_search_path.empty()) {
    absl::Status loaded = FunctionRegistry::Instance().LoadLibraries(config.code_search_path);
    if (!loaded.ok()) throw ray::internal::RayException(std::string(loaded.message()));
  }
  LocalRuntimeOptions options;
  options.ray_namespace = config.ray_namespace;
  unsigned cpus = std::max(1u, std::thread::hardware_concurrency());
  options.resources["CPU"] = config.num_cpus >= 0 ? config.num_cpus : cpus;
  if (config.num_gpus > 0) options.resources["GPU"] = config.num_gpus;
  for (const auto& [name, amount] : config.resources) options.resources[name] = amount;
  LocalRuntime& runtime = ProcessLocalRuntime();
  runtime.Start(std::move(options));
  g_local.store(&runtime, std::memory_order_release);
}

void StopLocalMode() {
  LocalRuntime* runtime = g_local.exchange(nullptr, std::memory_order_acq_rel);
  if (runtime != nullptr) runtime->Stop();
}

}  // namespace lumen::worker
