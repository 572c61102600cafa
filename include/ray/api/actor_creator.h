// include/ray/api/actor_creator.h
//
// ray::Actor(factory) returns an ActorCreator; its setters choose the
// actor's options and Remote(args...) registers the actor with the cluster
// and returns its ActorHandle at once, while the factory runs in a worker
// of its own. Arguments are converted as for ray::Task (task_caller.h).
// Setters throw std::invalid_argument for a bad value, SetRuntimeEnv
// RayRuntimeEnvException; Remote throws RayException when the name is taken
// in that namespace.
#pragma once

#include <stdexcept>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ray/api/actor_handle.h"
#include "ray/api/placement_group.h"
#include "ray/api/scheduling_strategy.h"
#include "ray/api/function_manager.h"
#include "ray/api/ray_config.h"
#include "ray/api/runtime.h"
#include "ray/api/runtime_env.h"
#include "ray/api/task_caller.h"

namespace ray {
namespace internal {

// Ray's name for the class an actor factory F makes.
template <typename F>
using GetActorType = ActorTypeOf<F>;

template <typename F>
class ActorCreator {
 public:
  using Traits = FunctionTraits<F>;
  static_assert(IsActorFactory<F>::value,
                "ray::Actor takes a factory function returning a pointer to the actor's class");

  // Throws RayFunctionNotFound unless RAY_REMOTE registered `factory`.
  explicit ActorCreator(F factory)
      : factory_name_(FunctionName(reinterpret_cast<const void*>(factory))) {}

  // A named actor can be found with ray::GetActor; a second live actor of
  // the same name in the same namespace is refused. Without `ray_namespace`,
  // the job's namespace.
  ActorCreator& SetName(const std::string& name) {
    options_.name = name;
    return *this;
  }
  ActorCreator& SetName(const std::string& name, const std::string& ray_namespace) {
    options_.name = name;
    options_.ray_namespace = ray_namespace;
    return *this;
  }
  // Held by the actor while it is alive (default: none). Both throw
  // std::invalid_argument for a bad name or amount (CheckResource).
  ActorCreator& SetResources(const std::unordered_map<std::string, double>& resources) {
    SetCheckedResources(options_.resources, resources);
    return *this;
  }
  ActorCreator& SetResource(const std::string& name, double value) {
    SetCheckedResource(options_.resources, name, value);
    return *this;
  }
  // How often the factory runs again after the actor's process died
  // (default 0; -1: without limit).
  ActorCreator& SetMaxRestarts(int max_restarts) {
    options_.max_restarts = CheckLimit("max_restarts", max_restarts);
    return *this;
  }
  // How many calls run at once, each on its own thread (default 1: one at
  // a time, in order).
  ActorCreator& SetMaxConcurrency(int max_concurrency) {
    if (max_concurrency < 1) {
      throw std::invalid_argument("max_concurrency must be at least 1, not " +
                                  std::to_string(max_concurrency));
    }
    options_.max_concurrency = max_concurrency;
    return *this;
  }
  // The worker runs the factory and every call with `runtime_env`.
  ActorCreator& SetRuntimeEnv(const ray::RuntimeEnv& runtime_env) {
    options_.runtime_env_json = SerializeRuntimeEnv(runtime_env);
    return *this;
  }

  // Lumen additions, as Ray Python's actor options:
  // How often a call that was running when the actor's process died is
  // sent again after a restart (default 0; -1: without limit).
  ActorCreator& SetMaxTaskRetries(int max_task_retries) {
    options_.max_task_retries = CheckLimit("max_task_retries", max_task_retries);
    return *this;
  }
  // Runs inside bundle `bundle_index` of `group` (-1: any of its bundles),
  // using the bundle's resources instead of the node's (placement_group.h).
  ActorCreator& SetPlacementGroup(const ray::PlacementGroup& group, int bundle_index = -1) {
    internal::CheckBundleIndex(group, bundle_index);
    options_.placement_group_id = group.GetID();
    options_.placement_group_bundle_index = bundle_index;
    return *this;
  }
  // Where the actor may be placed (scheduling_strategy.h); restarts too.
  ActorCreator& SetSchedulingStrategy(const ray::SchedulingStrategy& strategy) {
    options_.scheduling_kind = static_cast<int>(strategy.kind);
    options_.affinity_node_id = strategy.node_id;
    options_.affinity_soft = strategy.soft;
    return *this;
  }
  // Overrides RayConfig::default_actor_lifetime for this actor.
  ActorCreator& SetLifetime(ActorLifetime lifetime) {
    options_.lifetime = lifetime == ActorLifetime::DETACHED ? 1 : 0;
    return *this;
  }

  template <typename... Args>
  ActorHandle<GetActorType<F>> Remote(Args&&... args) {
    static_assert(sizeof...(Args) == Traits::kArity,
                  "wrong number of arguments for the actor factory's Remote()");
    std::vector<TaskArg> task_args = MakeTaskArgs<typename Traits::ArgsTuple>(
        std::index_sequence_for<Args...>{}, std::forward<Args>(args)...);
    return ActorHandle<GetActorType<F>>(CreateActor(factory_name_, std::move(task_args), options_));
  }

  const ActorOptions& Options() const { return options_; }

 private:
  static int CheckLimit(const char* what, int value) {
    if (value < -1) {
      throw std::invalid_argument(std::string(what) + " must be -1 (without limit) or more, not " +
                                  std::to_string(value));
    }
    return value;
  }

  std::string factory_name_;
  ActorOptions options_;
};

}  // namespace internal
}  // namespace ray
