// include/ray/api/runtime.h
//
// The boundary between the header-only API templates and the Lumen runtime
// inside liblumen_ray.so. Only plain standard types cross it, so user code
// built as C++17 links against a runtime built as C++20.
// Thread-safety: every function may be called from any thread after Init.
// Failure: functions throw the ray::internal exceptions of ray_exception.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ray {
class RayConfig;
namespace internal {

// An object reference as it crosses the boundary: the binary object id and
// the serialized address of its owner.
struct RefData {
  std::string id;
  std::string owner;
};
// Refs passed to Get and Wait, borrowed from the caller's ObjectRefs.
using RefList = std::vector<const RefData*>;

// One task argument: a msgpack-encoded value, or a reference to resolve.
struct TaskArg {
  bool is_ref = false;
  std::string value;
  RefData ref;
  // The ObjectRefs serialized inside `value` (a ref passed as a ref, a
  // vector of refs, ...): the caller holds them until the task finishes.
  std::vector<RefData> nested;
};

struct TaskOptions {
  std::string name;
  std::unordered_map<std::string, double> resources;
  int max_retries = -1;  // -1: the default (3).
  std::string runtime_env_json;  // RuntimeEnv::Serialize(); empty: none.
  // ray::SchedulingStrategy (scheduling_strategy.h) as plain fields.
  int scheduling_kind = 0;
  std::string affinity_node_id;  // Hex.
  bool affinity_soft = false;
  // SetPlacementGroup (placement_group.h): the group's id (hex; empty:
  // none) and bundle index (-1: any bundle).
  std::string placement_group_id;
  int placement_group_bundle_index = -1;
};

// ray::Actor(factory) options (include/ray/api/actor_creator.h).
struct ActorOptions {
  std::string name;           // Empty: not named.
  std::string ray_namespace;  // Empty: the job's namespace.
  std::unordered_map<std::string, double> resources;  // Held while alive.
  int max_restarts = 0;       // -1: without limit.
  int max_task_retries = 0;   // -1: without limit.
  int max_concurrency = 1;
  int lifetime = -1;          // -1: RayConfig::default_actor_lifetime; 0 non-detached; 1 detached.
  std::string runtime_env_json;
  int scheduling_kind = 0;       // As TaskOptions.
  std::string affinity_node_id;
  bool affinity_soft = false;
  std::string placement_group_id;  // As TaskOptions.
  int placement_group_bundle_index = -1;
};

// A read-only view of an object's bytes that keeps them mapped (plasma) or
// alive (in-process) while held.
class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual const char* data() const = 0;
  virtual size_t size() const = 0;
};

// Serialized arguments in, serialized result out. Throws what the function
// throws. `keep_alive`, when set, keeps data[0, size) valid past the call
// (an object mapped from the store): an ArrayView parameter then shares the
// bytes instead of copying them (array_view.h).
struct ArgView {
  const char* data;
  size_t size;
  std::shared_ptr<const void> keep_alive = nullptr;
};
using Invoker = std::function<std::string(const std::vector<ArgView>& args)>;
// Actors: a factory makes the instance (owning it; the deleter destroys
// it), a method runs on the instance.
using ActorFactory = std::function<std::shared_ptr<void>(const std::vector<ArgView>& args)>;
using MethodInvoker = std::function<std::string(void* instance, const std::vector<ArgView>& args)>;

void RegisterFunction(const std::string& name, const void* fn_ptr, Invoker invoker);
// The registered name of `fn_ptr`, or throws RayFunctionNotFound.
std::string FunctionName(const void* fn_ptr);
// A free function returning a pointer to a class is also an actor factory.
void RegisterActorFactory(const std::string& name, ActorFactory factory);
// `key` identifies the member function pointer (its bytes and the class's
// type name), as ray::internal::MethodKey makes it.
void RegisterActorMethod(const std::string& name, const std::string& key, MethodInvoker invoker);
// The registered name of the method `key`, or throws RayFunctionNotFound.
std::string MethodName(const std::string& key);

void RuntimeInit(RayConfig& config, int argc, char** argv);
bool RuntimeIsInitialized();
void RuntimeShutdown();

// Throws std::invalid_argument, naming the resource and the amount, unless
// `name` is 1..256 bytes of printable ASCII without spaces and `amount` is
// finite, >= 0, <= 1e13 and a whole number of 1/10000 units (docs/raylet.md).
void CheckResource(const std::string& name, double amount);

RefData SubmitTask(const std::string& function_name, std::vector<TaskArg>&& args,
                   const TaskOptions& options);
RefData PutObject(std::string&& data);
// Writes exactly `size` bytes of a serialized value at `dest`.
using ValueWriter = std::function<void(char* dest)>;
// ray::Put of a value serialized by `write` into `size` bytes: a value above
// the inline limit is written straight into the object store (one copy).
RefData PutSerialized(size_t size, const ValueWriter& write);
// A task's serialized result. Where the runtime runs the task and the
// result is above the inline limit, `write` fills the task's return object
// in the object store and the string returned is empty; otherwise the
// string holds the bytes.
std::string SerializeResult(size_t size, const ValueWriter& write);
// Buffers in the order of `refs`; throws RayTimeoutException when not all are
// ready within timeout_ms (< 0: wait forever), or the task's error.
std::vector<std::shared_ptr<Buffer>> GetObjects(const RefList& refs, int64_t timeout_ms);
// ready[i] tells whether refs[i] is ready; at least min(num_objects, n)
// are unless the timeout passed.
std::vector<bool> WaitObjects(const RefList& refs, int num_objects, int64_t timeout_ms);

// Local reference counting: one count per RefHandle (see object_ref.h).
void AddLocalRef(const RefData& ref);
void RemoveLocalRef(const std::string& id);
std::string IdToHex(const std::string& id);

std::unordered_map<std::string, double> ClusterResources();
std::unordered_map<std::string, double> AvailableResources();

// Actors (docs/actors.md). Actor ids cross as binary strings.
// Registers the actor with the GCS and returns its id at once (creation
// goes on in the background). Throws RayException when the name is taken.
std::string CreateActor(const std::string& factory_name, std::vector<TaskArg>&& args,
                        const ActorOptions& options);
RefData SubmitActorTask(const std::string& actor_id, const std::string& method_name,
                        std::vector<TaskArg>&& args, const TaskOptions& options);
void KillActor(const std::string& actor_id, bool no_restart);
// The id of the live actor `name` in `ray_namespace` (empty: the job's), or
// "" when there is none.
std::string GetActorId(const std::string& name, const std::string& ray_namespace);
// In an actor's method: ends the actor after this call (no restart).
[[noreturn]] void ExitActor();
bool WasCurrentActorRestarted();
std::string GetNamespace();

// Placement groups (placement_group.h); ids cross as hex. `strategy` and
// `state` are the ray::PlacementStrategy / PlacementGroupState values.
struct PlacementGroupData {
  std::string id;  // Empty: not found.
  std::string name;
  std::vector<std::unordered_map<std::string, double>> bundles;
  int strategy = 0;
  int state = 0;
};
// Registers the group with the GCS and returns its id at once; throws
// std::invalid_argument for bad bundles, RayException when the name is taken.
std::string CreatePlacementGroup(const std::string& name,
                                 const std::vector<std::unordered_map<std::string, double>>& bundles,
                                 int strategy);
void RemovePlacementGroup(const std::string& id);
// By id (hex) or, with an empty id, by name in the job's namespace.
PlacementGroupData GetPlacementGroup(const std::string& id, const std::string& name);
std::vector<PlacementGroupData> GetAllPlacementGroups();
// True once the group is CREATED; false after timeout_seconds (or when removed).
bool WaitPlacementGroupReady(const std::string& id, int64_t timeout_seconds);

}  // namespace internal
}  // namespace ray
