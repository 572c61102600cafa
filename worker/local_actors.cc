// LocalRuntime's actors: objects of this process, called on the callers'
// threads.
//
// An actor's life: CreateActor publishes it (name taken, gate closed),
// runs the factory outside the lock, then adopts the instance (or records
// the death) and opens the gate. Calls pass the gate (at most
// max_concurrency at once), take a reference to the instance and run.
// Kill, ExitActor or a failed factory: dead with a cause, name freed,
// instance dropped once the calls still running on it return.
#include <algorithm>
#include <typeinfo>

#include "ray/api/ray_exception.h"
#include "worker/function_registry.h"
#include "worker/local_runtime.h"
#include "worker/local_runtime_internal.h"
#include "worker/task_env.h"

namespace lumen::worker {

using namespace local_internal;

namespace {

const char kExitCause[] = "the actor exited by calling ray::ExitActor()";
const char kKillCause[] = "killed by ray::Kill";

// Admits up to `limit` calls at once, once opened.
class CallGate {
 public:
  explicit CallGate(int limit) : limit_(limit) {}
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  void Enter() {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(this, &CallGate::HasRoom));
    ++running_;
  }
  void Leave() {
    absl::MutexLock lock(&mu_);
    --running_;
  }

 private:
  bool HasRoom() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return open_ && running_ < limit_; }

  absl::Mutex mu_;
  const int limit_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  int running_ ABSL_GUARDED_BY(mu_) = 0;
};

// Holds a place in the actor's gate, unless this thread already runs a
// call of the same actor further out (a call back into itself runs at
// once, as everything does in Ray's local mode, rather than deadlock).
class GateTicket {
 public:
  GateTicket(CallGate& gate, const void* actor)
      : gate_(std::find(t_frames.begin(), t_frames.end(), actor) == t_frames.end() ? &gate
                                                                                     : nullptr) {
    if (gate_) gate_->Enter();
  }
  ~GateTicket() {
    if (gate_) gate_->Leave();
  }
  GateTicket(const GateTicket&) = delete;
  GateTicket& operator=(const GateTicket&) = delete;

 private:
  CallGate* gate_;
};

}  // namespace

class LocalRuntime::Actor {
 public:
  Actor(std::string id, std::string class_name, std::string name, std::string ray_namespace,
        int max_concurrency)
      : id(std::move(id)),
        class_name(std::move(class_name)),
        name(std::move(name)),
        ray_namespace(std::move(ray_namespace)),
        gate(max_concurrency) {}

  const std::string id;
  const std::string class_name;
  const std::string name;
  const std::string ray_namespace;
  EnvVars env;  // Set before the factory runs, then constant.
  CallGate gate;
  // Guarded by the runtime's mu_: the object (null until created and once
  // dead) and, once dead, why.
  std::shared_ptr<void> instance;
  std::string death_cause;
};

LocalRuntime::Outcome LocalRuntime::DeathError(const Actor& actor, const std::string& cause) {
  std::string what = actor.class_name.empty() ? "actor" : "actor " + actor.class_name;
  if (!actor.name.empty()) what += " '" + actor.name + "'";
  return Error(ErrorKind::kActorDied, "The " + what + " (" + ActorId::FromBinaryOrNil(actor.id).Hex() +
                                          ") is dead: " + cause);
}

std::shared_ptr<void> LocalRuntime::DieLocked(Actor& actor, const std::string& cause) {
  if (!actor.death_cause.empty()) return nullptr;
  actor.death_cause = cause;
  auto it = names_.find({actor.ray_namespace, actor.name});
  if (it != names_.end() && it->second == actor.id) names_.erase(it);
  return std::move(actor.instance);
}

std::shared_ptr<LocalRuntime::Actor> LocalRuntime::Publish(const std::string& factory_name,
                                                           const ray::internal::ActorOptions& options) {
  if (options.max_concurrency < 1) {
    throw ray::internal::RayException("SetMaxConcurrency: an actor needs at least one thread");
  }
  absl::MutexLock lock(&mu_);
  CheckActiveLocked();
  const std::string& ns = options.ray_namespace.empty() ? options_.ray_namespace : options.ray_namespace;
  auto actor = std::make_shared<Actor>(ActorId::Of(job_).Binary(), factory_name, options.name, ns,
                                       options.max_concurrency);
  if (!options.name.empty() && !names_.emplace(std::pair(ns, options.name), actor->id).second) {
    // The GCS's words (gcs/actor_directory.cc).
    throw ray::internal::RayException("actor name '" + options.name +
                                      "' is already taken in namespace '" + ns + "'");
  }
  actors_[actor->id] = actor;
  return actor;
}

std::shared_ptr<LocalRuntime::Actor> LocalRuntime::FindActor(const std::string& actor_id) const {
  absl::MutexLock lock(&mu_);
  auto it = actors_.find(actor_id);
  return it == actors_.end() ? nullptr : it->second;
}

std::string LocalRuntime::CreateActor(const std::string& factory_name,
                                      std::vector<ray::internal::TaskArg>&& args,
                                      const ray::internal::ActorOptions& options) {
  std::shared_ptr<Actor> actor = Publish(factory_name, options);
  uint64_t session;
  Resolved resolved = Resolve(args, &session);
  std::string cause;
  std::shared_ptr<void> instance;
  auto factory = FunctionRegistry::Instance().FindFactory(factory_name);
  auto vars = EnvVarsOf(options.runtime_env_json);
  if (resolved.error) {
    cause = "the actor's factory could not run: an argument could not be resolved: " + resolved.error->error;
  } else if (!factory) {
    cause = "the actor's factory could not run: actor factory '" + factory_name +
            "' is not registered in this process: register it with RAY_REMOTE";
  } else if (!vars.ok()) {
    cause = "the actor's factory threw: " +
            TaskThrew(factory_name, "ray::internal::RayRuntimeEnvException",
                      std::string(vars.status().message()))
                .error;
  } else {
    actor->env = *vars;
    ScopedEnv env(actor->env);
    Frame frame(nullptr);  // ray::ExitActor() is for methods, not factories.
    Outcome made = RunUserCode(factory_name, [&]() -> std::string {
      instance = (*factory)(resolved.views);
      if (!instance) throw ray::internal::RayActorException("the actor factory returned a null pointer");
      return {};
    });
    if (made.kind != ErrorKind::kNone) cause = "the actor's factory threw: " + made.error;
  }
  std::shared_ptr<void> doomed;
  {
    absl::MutexLock lock(&mu_);
    if (session == session_ && actor->death_cause.empty()) {
      if (cause.empty()) {
        actor->instance = std::move(instance);
      } else {
        doomed = DieLocked(*actor, cause);
      }
    }
  }
  actor->gate.Open();
  return actor->id;  // `instance` dies here if the actor was killed meanwhile.
}

ray::internal::RefData LocalRuntime::SubmitActorTask(const std::string& actor_id,
                                                     const std::string& method,
                                                     std::vector<ray::internal::TaskArg>&& args) {
  if (!ActorId::FromBinary(actor_id).ok()) {
    throw ray::internal::RayException("not an actor handle (bad actor id)");
  }
  uint64_t session;
  Resolved resolved = Resolve(args, &session);
  std::shared_ptr<Actor> actor = FindActor(actor_id);
  if (!actor) {
    return Store(Error(ErrorKind::kActorDied,
                       "no actor " + ActorId::FromBinaryOrNil(actor_id).Hex() +
                           " in this local-mode session (local mode knows only the actors it "
                           "created since ray::Init)"),
                 session);
  }
  if (resolved.error) return Store(std::move(*resolved.error), session);
  Outcome outcome = CallMethod(*actor, method, resolved);
  resolved = Resolved();
  return Store(std::move(outcome), session);
}

LocalRuntime::Outcome LocalRuntime::CallMethod(Actor& actor, const std::string& method,
                                               const Resolved& args) {
  GateTicket ticket(actor.gate, &actor);
  std::shared_ptr<void> instance;
  {
    absl::MutexLock lock(&mu_);
    if (!actor.death_cause.empty()) return DeathError(actor, actor.death_cause);
    instance = actor.instance;
  }
  if (!instance) return DeathError(actor, "ray::Shutdown() ran while it was being created");
  auto invoker = FunctionRegistry::Instance().FindMethod(method);
  if (!invoker) {
    return Error(ErrorKind::kFunctionNotFound,
                 "actor method '" + method +
                     "' is not registered in this process: register it with "
                     "RAY_REMOTE(&Class::Method) [task " +
                     Where(method) + "]");
  }
  bool exited = false;
  Outcome outcome;
  {
    ScopedEnv env(actor.env);
    Frame frame(&actor);
    outcome = RunUserCode(method, [&]() -> std::string {
      try {
        return (*invoker)(instance.get(), args.views);
      } catch (const ActorExit&) {
        exited = true;
        return {};
      }
    });
  }
  if (exited) {
    std::shared_ptr<void> doomed;
    {
      absl::MutexLock lock(&mu_);
      doomed = DieLocked(actor, kExitCause);
    }
    instance.reset();
    return Error(ErrorKind::kActorDied, std::string(kExitCause) + " [task " + Where(method) + "]");
  }
  return outcome;
}

void LocalRuntime::KillActor(const std::string& actor_id) {
  std::shared_ptr<void> doomed;  // Dies after `lock`: its destructor is user code.
  absl::MutexLock lock(&mu_);
  CheckActiveLocked();
  auto it = actors_.find(actor_id);
  if (it == actors_.end()) {
    throw ray::internal::RayException("cannot kill the actor " + ActorId::FromBinaryOrNil(actor_id).Hex() +
                                      ": no such actor in this local-mode session");
  }
  doomed = DieLocked(*it->second, kKillCause);
}

std::string LocalRuntime::GetActorId(const std::string& name, const std::string& ray_namespace) const {
  absl::MutexLock lock(&mu_);
  CheckActiveLocked();
  auto it = names_.find({ray_namespace.empty() ? options_.ray_namespace : ray_namespace, name});
  return it == names_.end() ? "" : it->second;
}

void LocalRuntime::ExitActor() {
  if (t_frames.empty() || t_frames.back() == nullptr) {
    throw ray::internal::RayException("ray::ExitActor() may only be called inside an actor's method");
  }
  throw ActorExit();
}

size_t LocalRuntime::LiveActorCount() const {
  absl::MutexLock lock(&mu_);
  return std::count_if(actors_.begin(), actors_.end(),
                       [](const auto& entry) { return entry.second->death_cause.empty(); });
}

}  // namespace lumen::worker
