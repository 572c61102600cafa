// include/ray/api/task_caller.h
//
// ray::Task(f) returns a TaskCaller; Remote(args...) submits the task and
// returns at once with an ObjectRef to its result. Arguments that are
// ObjectRef<T> for a parameter of type T are resolved to their values
// before the function runs; other arguments are serialized with msgpack.
#pragma once

#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ray/api/function_manager.h"
#include "ray/api/object_ref.h"
#include "ray/api/runtime.h"
#include "ray/api/runtime_env.h"
#include "ray/api/placement_group.h"
#include "ray/api/scheduling_strategy.h"

namespace ray {
namespace internal {

template <typename Param, typename Arg>
TaskArg MakeTaskArg(Arg&& arg) {
  using A = std::decay_t<Arg>;
  TaskArg out;
  if constexpr (IsObjectRef<A>::value && !IsObjectRef<Param>::value) {
    out.is_ref = true;
    out.ref = arg.Data();
  } else {
    // Collects the refs the value contains (restored even if packing throws).
    struct Collect {
      std::vector<RefData>* saved = g_packed_refs;
      explicit Collect(std::vector<RefData>* into) { g_packed_refs = into; }
      ~Collect() { g_packed_refs = saved; }
    } collect(&out.nested);
    if constexpr (std::is_constructible_v<Param, Arg&&>) {
      out.value = Serializer::Serialize(Param(std::forward<Arg>(arg)));
    } else {
      out.value = Serializer::Serialize(arg);
    }
  }
  return out;
}

// The resource setters of TaskCaller, ActorTaskCaller and ActorCreator:
// throw std::invalid_argument for a bad name or amount (CheckResource),
// leaving `into` unchanged.
inline void SetCheckedResources(std::unordered_map<std::string, double>& into,
                                const std::unordered_map<std::string, double>& resources) {
  for (const auto& [name, value] : resources) CheckResource(name, value);
  into = resources;
}
inline void SetCheckedResource(std::unordered_map<std::string, double>& into,
                               const std::string& name, double value) {
  CheckResource(name, value);
  into[name] = value;
}

// The TaskArgs of `args` for parameters of the types in ArgsTuple.
template <typename ArgsTuple, size_t... I, typename... Args>
std::vector<TaskArg> MakeTaskArgs(std::index_sequence<I...>, Args&&... args) {
  std::vector<TaskArg> out;
  out.reserve(sizeof...(Args));
  (out.push_back(MakeTaskArg<std::tuple_element_t<I, ArgsTuple>>(std::forward<Args>(args))), ...);
  return out;
}

template <typename F>
class TaskCaller {
 public:
  using Traits = FunctionTraits<F>;
  using ReturnType = typename Traits::ReturnType;

  explicit TaskCaller(F fn) : fn_(fn) {}

  TaskCaller& SetName(const std::string& name) {
    options_.name = name;
    return *this;
  }
  // Both throw std::invalid_argument for a bad name or amount (CheckResource).
  TaskCaller& SetResources(const std::unordered_map<std::string, double>& resources) {
    SetCheckedResources(options_.resources, resources);
    return *this;
  }
  TaskCaller& SetResource(const std::string& name, double value) {
    SetCheckedResource(options_.resources, name, value);
    return *this;
  }
  // Lumen addition (Ray Python's max_retries): how often a task whose
  // worker died is retried. Default 3; 0 disables retries.
  TaskCaller& SetMaxRetries(int max_retries) {
    options_.max_retries = max_retries;
    return *this;
  }
  // The worker runs the task with `runtime_env` (runtime_env.h). Throws
  // RayRuntimeEnvException for a field Lumen does not support or a
  // malformed env_vars.
  TaskCaller& SetRuntimeEnv(const ray::RuntimeEnv& runtime_env) {
    options_.runtime_env_json = SerializeRuntimeEnv(runtime_env);
    return *this;
  }

  // Lumen addition: where the task may run (scheduling_strategy.h).
  // Runs inside bundle `bundle_index` of `group` (-1: any of its bundles),
  // using the bundle's resources instead of the node's (placement_group.h).
  TaskCaller& SetPlacementGroup(const ray::PlacementGroup& group, int bundle_index = -1) {
    internal::CheckBundleIndex(group, bundle_index);
    options_.placement_group_id = group.GetID();
    options_.placement_group_bundle_index = bundle_index;
    return *this;
  }
  TaskCaller& SetSchedulingStrategy(const ray::SchedulingStrategy& strategy) {
    options_.scheduling_kind = static_cast<int>(strategy.kind);
    options_.affinity_node_id = strategy.node_id;
    options_.affinity_soft = strategy.soft;
    return *this;
  }

  template <typename... Args>
  ObjectRef<ReturnType> Remote(Args&&... args) {
    static_assert(sizeof...(Args) == Traits::kArity, "wrong number of arguments for Remote()");
    std::vector<TaskArg> task_args = MakeTaskArgs<typename Traits::ArgsTuple>(
        std::index_sequence_for<Args...>{}, std::forward<Args>(args)...);
    return ObjectRef<ReturnType>(
        SubmitTask(FunctionName(reinterpret_cast<const void*>(fn_)), std::move(task_args), options_));
  }

 private:
  F fn_;
  TaskOptions options_;
};

}  // namespace internal
}  // namespace ray
