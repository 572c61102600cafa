// include/ray/api.h
//
// Lumen's public C++ API, source-compatible with Ray's C++ API for tasks,
// objects, actors and the cluster calls below:
//
//   int Square(int x) { return x * x; }
//   class Counter {
//    public:
//     explicit Counter(int start) : value_(start) {}
//     int Add(int n) { return value_ += n; }
//    private:
//     int value_;
//   };
//   Counter* CreateCounter(int start) { return new Counter(start); }
//   RAY_REMOTE(Square, CreateCounter, &Counter::Add);
//   int main() {
//     ray::Init();                                    // private local cluster
//     auto ref = ray::Task(Square).Remote(5);         // returns at once
//     int v = *ray::Get(ref);                         // 25
//     ray::ActorHandle<Counter> counter = ray::Actor(CreateCounter).Remote(10);
//     int c = *counter.Task(&Counter::Add).Remote(1).Get();  // 11
//     ray::Shutdown();
//   }
//
// Threading: every call may be made from any thread between Init and
// Shutdown. Failure: calls throw ray::internal::Ray*Exception.
#pragma once

// What Ray's <ray/api.h> brings in for its users' programs.
#include <any>
#include <boost/optional.hpp>
#include <iostream>
#include <list>
#include <memory>
#include <msgpack.hpp>
#include <string>
#include <unordered_map>
#include <vector>

#include "ray/api/actor_creator.h"
#include "ray/api/array_view.h"
#include "ray/api/actor_handle.h"
#include "ray/api/actor_task_caller.h"
#include "ray/api/function_manager.h"
#include "ray/api/metric.h"
#include "ray/api/object_ref.h"
#include "ray/api/placement_group.h"
#include "ray/api/ray_config.h"
#include "ray/api/ray_exception.h"
#include "ray/api/runtime.h"
#include "ray/api/runtime_env.h"
#include "ray/api/serializer.h"
#include "ray/api/task_caller.h"
#include "ray/api/wait_result.h"

namespace ray {

namespace internal {
// Throws std::invalid_argument for a bad custom resource of `config`.
inline void CheckConfig(const RayConfig& config) {
  for (const auto& [name, amount] : config.resources) CheckResource(name, amount);
}
}  // namespace internal

// Connects to a cluster (config.address, else RAY_ADDRESS) or starts a
// private local one. In a worker process started by the raylet, Init runs
// the worker and does not return. Throws std::invalid_argument for a bad
// config.resources entry, before anything starts.
inline void Init(RayConfig& config, int argc, char** argv) {
  internal::CheckConfig(config);
  internal::RuntimeInit(config, argc, argv);
}
inline void Init(RayConfig& config) { Init(config, 0, nullptr); }
inline void Init() {
  RayConfig config;
  internal::RuntimeInit(config, 0, nullptr);
}
inline bool IsInitialized() { return internal::RuntimeIsInitialized(); }
// Disconnects; stops the private local cluster and every worker it started.
inline void Shutdown() { internal::RuntimeShutdown(); }

// Stores `value` in the object store; this process owns it. A large value
// is serialized straight into shared memory (one copy).
template <typename T>
ObjectRef<T> Put(const T& value) {
  const size_t size = internal::Serializer::SerializedSize(value);
  return ObjectRef<T>(internal::PutSerialized(
      size, [&](char* dest) { internal::Serializer::SerializeInto(value, dest, size); }));
}

// Blocks until the object is available (timeout_ms < 0: forever). Throws
// RayTimeoutException, or the error of the task that should have made it.
template <typename T>
std::shared_ptr<T> Get(const ObjectRef<T>& object, const int& timeout_ms = -1) {
  return internal::GetOne(object, timeout_ms);
}

// The result of a function returning void: waits until it ran (or throws
// its error).
inline void Get(const ObjectRef<void>& object, const int& timeout_ms = -1) {
  internal::GetObjects({&object.Data()}, timeout_ms);
}

template <typename T>
std::vector<std::shared_ptr<T>> Get(const std::vector<ObjectRef<T>>& objects,
                                    const int& timeout_ms = -1) {
  internal::RefList refs;
  refs.reserve(objects.size());
  for (const auto& o : objects) refs.push_back(&o.Data());
  auto buffers = internal::GetObjects(refs, timeout_ms);
  std::vector<std::shared_ptr<T>> out;
  out.reserve(buffers.size());
  for (const auto& b : buffers) out.push_back(std::make_shared<T>(internal::DecodeObject<T>(b)));
  return out;
}

// Waits until `num_objects` of `objects` are ready or `timeout_ms` passes
// (< 0: no timeout); returns them split into ready and unready, in order.
template <typename T>
WaitResult<T> Wait(const std::vector<ObjectRef<T>>& objects, int num_objects, int timeout_ms) {
  if (num_objects < 0 || num_objects > static_cast<int>(objects.size())) {
    throw internal::RayException("Wait: num_objects must be between 0 and the number of refs");
  }
  internal::RefList refs;
  refs.reserve(objects.size());
  for (const auto& o : objects) refs.push_back(&o.Data());
  std::vector<bool> ready = internal::WaitObjects(refs, num_objects, timeout_ms);
  WaitResult<T> result;
  int taken = 0;
  for (size_t i = 0; i < objects.size(); ++i) {
    if (ready[i] && taken < num_objects) {
      result.ready.push_back(objects[i]);
      ++taken;
    } else {
      result.unready.push_back(objects[i]);
    }
  }
  return result;
}

template <typename F>
internal::TaskCaller<F> Task(F func) {
  static_assert(!internal::IsActorFactory<F>::value,
                "this function returns a pointer: it is an actor factory, for ray::Actor");
  return internal::TaskCaller<F>(func);
}

// An ActorCreator for the actor factory `create_func` (a function returning
// a pointer to the actor's class, registered with RAY_REMOTE); see
// actor_creator.h. Throws RayFunctionNotFound when it is not registered.
template <typename F>
internal::ActorCreator<F> Actor(F create_func) {
  return internal::ActorCreator<F>(create_func);
}

// The live actor named `actor_name` in the job's namespace, or in
// `ray_namespace`; empty when there is none. T must be the actor's class.
template <typename T>
boost::optional<ActorHandle<T>> GetActor(const std::string& actor_name,
                                         const std::string& ray_namespace) {
  if (actor_name.empty()) throw internal::RayException("Actor name cannot be an empty string.");
  std::string id = internal::GetActorId(actor_name, ray_namespace);
  if (id.empty()) return boost::none;
  return ActorHandle<T>(id);
}
template <typename T>
boost::optional<ActorHandle<T>> GetActor(const std::string& actor_name) {
  return GetActor<T>(actor_name, "");
}

// Called in an actor's method: the method stops there, the actor ends and
// does not restart; that call and later ones fail with RayActorException.
[[noreturn]] inline void ExitActor() { internal::ExitActor(); }
// In an actor: whether its factory ran again after a restart.
inline bool WasCurrentActorRestarted() { return internal::WasCurrentActorRestarted(); }
// The namespace of this job (RayConfig::ray_namespace, or the one given).
inline std::string GetNamespace() { return internal::GetNamespace(); }

// Total and currently available resources of the cluster's alive nodes:
// "CPU", "GPU", "memory", "object_store_memory", "node:<ip>", custom ones.
inline std::unordered_map<std::string, double> ClusterResources() {
  return internal::ClusterResources();
}
inline std::unordered_map<std::string, double> AvailableResources() {
  return internal::AvailableResources();
}

}  // namespace ray
