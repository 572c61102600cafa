// include/ray/api/actor_task_caller.h
//
// handle.Task(&Counter::Add) returns an ActorTaskCaller; Remote(args...)
// sends the call to the actor and returns at once with an ObjectRef to its
// result. Arguments are converted as for ray::Task (task_caller.h): an
// ObjectRef<T> given for a parameter of type T is resolved before the
// method runs. Calls from one caller run in the order they were sent.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ray/api/function_manager.h"
#include "ray/api/object_ref.h"
#include "ray/api/runtime.h"
#include "ray/api/task_caller.h"

namespace ray {
namespace internal {

template <typename F>
class ActorTaskCaller {
 public:
  using Traits = MemberTraits<F>;
  using ReturnType = typename Traits::ReturnType;

  ActorTaskCaller() = default;
  // `actor_id` binary; `method_name` as registered by RAY_REMOTE.
  ActorTaskCaller(std::string actor_id, std::string method_name)
      : actor_id_(std::move(actor_id)), method_name_(std::move(method_name)) {}

  ActorTaskCaller& SetName(const std::string& name) {
    options_.name = name;
    return *this;
  }
  // As in Ray's API, where they have no effect either: a call runs on the
  // actor's worker, within the resources the actor holds. Checked
  // (CheckResource) and passed to the runtime, which ignores them.
  ActorTaskCaller& SetResources(const std::unordered_map<std::string, double>& resources) {
    SetCheckedResources(options_.resources, resources);
    return *this;
  }
  ActorTaskCaller& SetResource(const std::string& name, double value) {
    SetCheckedResource(options_.resources, name, value);
    return *this;
  }

  template <typename... Args>
  ObjectRef<ReturnType> Remote(Args&&... args) {
    static_assert(sizeof...(Args) == Traits::kArity,
                  "wrong number of arguments for the actor method's Remote()");
    std::vector<TaskArg> task_args = MakeTaskArgs<typename Traits::ArgsTuple>(
        std::index_sequence_for<Args...>{}, std::forward<Args>(args)...);
    return ObjectRef<ReturnType>(
        SubmitActorTask(actor_id_, method_name_, std::move(task_args), options_));
  }

 private:
  std::string actor_id_;
  std::string method_name_;
  TaskOptions options_;
};

}  // namespace internal
}  // namespace ray
