// include/ray/api/actor_handle.h
//
// ActorHandle<T>: a reference to an actor of class T, as in Ray's C++ API.
// It holds only the actor's id, so copies are cheap and any process that
// has one (passed as a task or method argument, returned from one, or found
// with ray::GetActor) can call the actor. A handle does not keep the actor
// alive: a regular actor lives until its job's driver exits or it is
// killed, a detached one until it is killed.
#pragma once

#include <msgpack.hpp>
#include <string>
#include <type_traits>

#include "ray/api/actor_task_caller.h"
#include "ray/api/function_manager.h"
#include "ray/api/runtime.h"
#include "ray/api/serializer.h"

namespace ray {

template <typename ActorType>
class ActorHandle {
 public:
  ActorHandle() = default;
  // `id`: the binary actor id, as internal::CreateActor returns it.
  explicit ActorHandle(const std::string& id) : id_(id) {}

  // The binary actor id (Ray's C++ API returns the binary id too);
  // empty for a default-constructed handle.
  const std::string& ID() const { return id_; }

  // A caller of `actor_func`, a member function of ActorType (or of a base)
  // registered with RAY_REMOTE. Throws RayFunctionNotFound when it is not
  // registered, RayException for an empty handle.
  template <typename F>
  internal::ActorTaskCaller<F> Task(F actor_func) const {
    static_assert(std::is_member_function_pointer_v<F>,
                  "Actor method is not a member function of actor class.");
    using Self = typename internal::MemberTraits<F>::Class;
    static_assert(std::is_same_v<ActorType, Self> || std::is_base_of_v<Self, ActorType>,
                  "Class types must be same.");
    CheckNotEmpty();
    return internal::ActorTaskCaller<F>(id_, internal::MethodName(internal::MethodKey(actor_func)));
  }

  // Kills the actor's process at once; calls in flight and later calls
  // fail with RayActorException. no_restart = false lets max_restarts
  // restart it. Kill() is Kill(true), as in Ray.
  void Kill() const { Kill(true); }
  void Kill(bool no_restart) const {
    CheckNotEmpty();
    internal::KillActor(id_, no_restart);
  }

  // The handle `serialized_actor_handle` holds: the bytes of
  // ray::internal::Serializer::Serialize(handle).
  static ActorHandle FromBytes(const std::string& serialized_actor_handle) {
    return internal::Serializer::Deserialize<ActorHandle>(serialized_actor_handle.data(),
                                                          serialized_actor_handle.size());
  }

  friend bool operator==(const ActorHandle& a, const ActorHandle& b) { return a.id_ == b.id_; }
  friend bool operator!=(const ActorHandle& a, const ActorHandle& b) { return a.id_ != b.id_; }

  // Handles travel as msgpack values: passed to and returned from tasks
  // and actor methods, nested in containers and user structs.
  MSGPACK_DEFINE(id_);

 private:
  void CheckNotEmpty() const {
    if (id_.empty()) {
      throw internal::RayException(
          "this ActorHandle names no actor (default-constructed): get one from "
          "ray::Actor(...).Remote() or ray::GetActor");
    }
  }

  std::string id_;
};

}  // namespace ray
