// worker/local_runtime.h
//
// LocalRuntime: RayConfig::local_mode, as in Ray. Tasks and actors run
// inside the driver process, for debugging: no cluster, no daemons, no
// worker processes, no sockets. Every function of include/ray/api/runtime.h
// that touches objects, tasks or actors comes here while local mode is on
// (runtime.cc dispatches).
//
// What happens, and when:
// - SubmitTask resolves ObjectRef arguments from the local store and runs
//   the registered function at once, on the calling thread; Remote()
//   returns when it has finished. An exception becomes the object's error,
//   thrown at Get as RayTaskException worded as a worker words it
//   ("task F (pid=N, local mode) threw T: what").
// - Objects live in an in-process store with one count per RefHandle; an
//   object is freed when its count drops to zero after an ObjectRef held it
//   (as in cluster mode: a ref nested in a value does not keep it alive).
//   Get and Wait find everything ready; Get of an id not in the store
//   throws UnreconstructableException naming it.
// - An actor is the factory's object in this process, created inside
//   CreateActor. Calls run on the caller's thread, at most max_concurrency
//   at once (a call made from inside the same actor's method runs at once).
//   Names are unique per namespace among live actors, refused with the
//   GCS's words. Kill and ray::ExitActor() end it for good (no restarts in
//   local mode); later calls fail with RayActorException naming the cause.
// - RuntimeEnv env_vars are set in the process around each task, around
//   the factory and around each of the actor's calls, then restored.
// Threading: every method may be called from any thread; one mutex guards
// the store and the actor table, and is never held while user code runs
// or user objects are destroyed. Failure: RayException and its kinds.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/id.h"
#include "ray/api/runtime.h"

namespace ray {
class RayConfig;
}

namespace lumen::worker {

struct LocalRuntimeOptions {
  std::string ray_namespace;  // Empty: "anonymous-<16 hex>", as a cluster driver gets.
  // What ClusterResources() and AvailableResources() report.
  std::unordered_map<std::string, double> resources;
};

class LocalRuntime {
 public:
  LocalRuntime() = default;
  ~LocalRuntime();
  LocalRuntime(const LocalRuntime&) = delete;
  LocalRuntime& operator=(const LocalRuntime&) = delete;

  // Start begins a session; Stop ends it, dropping every object and actor
  // (actors' destructors run on the calling thread). Calls made while
  // stopped throw RayException; a task still running when Stop comes has
  // its result dropped and its caller gets a RayException.
  void Start(LocalRuntimeOptions options);
  void Stop();

  ray::internal::RefData SubmitTask(const std::string& function_name,
                                    std::vector<ray::internal::TaskArg>&& args,
                                    const ray::internal::TaskOptions& options);
  ray::internal::RefData Put(std::string&& data);
  std::vector<std::shared_ptr<ray::internal::Buffer>> Get(const ray::internal::RefList& refs);
  std::vector<bool> Wait(const ray::internal::RefList& refs);
  void AddLocalRef(const ray::internal::RefData& ref);
  void RemoveLocalRef(const std::string& id);
  std::unordered_map<std::string, double> Resources() const;
  std::string Namespace() const;

  // Actors (local_actors.cc).
  std::string CreateActor(const std::string& factory_name, std::vector<ray::internal::TaskArg>&& args,
                          const ray::internal::ActorOptions& options);
  ray::internal::RefData SubmitActorTask(const std::string& actor_id, const std::string& method,
                                         std::vector<ray::internal::TaskArg>&& args);
  void KillActor(const std::string& actor_id);
  std::string GetActorId(const std::string& name, const std::string& ray_namespace) const;
  // Throws RayException outside an actor's method.
  [[noreturn]] static void ExitActor();

  // For tests: objects in the store, and actors not dead.
  size_t ObjectCount() const;
  size_t LiveActorCount() const;

  // How a call ended: a value, or an error of one kind (the exception Get
  // throws) with its message.
  enum class ErrorKind { kNone, kTask, kActorDied, kFunctionNotFound, kLost };
  struct Outcome {
    std::shared_ptr<const std::string> value;
    ErrorKind kind = ErrorKind::kNone;
    std::string error;
  };

 private:
  struct Object {
    Outcome outcome;
    int refs = 0;
  };
  class Actor;
  // A call's arguments: their bytes, kept alive while it runs, or the
  // error of the first argument that has one.
  struct Resolved {
    std::vector<std::shared_ptr<const std::string>> values;
    std::vector<ray::internal::ArgView> views;
    std::unique_ptr<Outcome> error;
  };

  void CheckActiveLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Throws unless a session is active; resolves `args` from the store and
  // sets `session` to the session's number.
  Resolved Resolve(std::vector<ray::internal::TaskArg>& args, uint64_t* session);
  // Stores `outcome` as a new object of session `session`, unreferenced
  // until an ObjectRef takes it.
  ray::internal::RefData Store(Outcome outcome, uint64_t session);
  // Registers a new actor and its name (refused when taken).
  std::shared_ptr<Actor> Publish(const std::string& factory_name,
                                 const ray::internal::ActorOptions& options);
  std::shared_ptr<Actor> FindActor(const std::string& actor_id) const;
  Outcome CallMethod(Actor& actor, const std::string& method, const Resolved& args);
  // Marks `actor` dead and frees its name; returns the instance, to be
  // dropped once mu_ is released.
  std::shared_ptr<void> DieLocked(Actor& actor, const std::string& cause)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  static Outcome DeathError(const Actor& actor, const std::string& cause);

  mutable absl::Mutex mu_;
  bool active_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t session_ ABSL_GUARDED_BY(mu_) = 0;  // Bumped by Start and Stop.
  LocalRuntimeOptions options_ ABSL_GUARDED_BY(mu_);
  JobId job_ = JobId::FromInt(1);
  absl::flat_hash_map<std::string, Object> objects_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_map<std::string, std::shared_ptr<Actor>> actors_ ABSL_GUARDED_BY(mu_);
  // (namespace, name) -> actor id, for live actors.
  absl::flat_hash_map<std::pair<std::string, std::string>, std::string> names_ ABSL_GUARDED_BY(mu_);
};

// The process's LocalRuntime while ray::Init(local_mode) is in effect, else
// null. One atomic load: cheap enough for every API call in cluster mode.
LocalRuntime* ActiveLocalRuntime();
// For RuntimeInit and RuntimeShutdown (under their lock). Start refuses a
// config naming a cluster (address, head_args) with RayException, loads
// the code search path's libraries, and reports the CPUs of this machine
// (or config.num_cpus), num_gpus and config.resources as the resources.
void StartLocalMode(const ray::RayConfig& config);
void StopLocalMode();

}  // namespace lumen::worker
