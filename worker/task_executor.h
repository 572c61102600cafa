// worker/task_executor.h
//
// TaskExecutor runs pushed tasks on one dedicated thread, in arrival order:
// it resolves ObjectRef arguments to their bytes (through ObjectGetter),
// finds the function by name in the FunctionRegistry, runs it, and puts
// the result in the reply: inline up to kMaxInlineReturnBytes, else sealed
// (and pinned) in the node's plasma store, serialized straight into it
// (object_writer.h). Arguments from plasma reach ArrayView parameters
// without a copy (their ArgView keeps the mapping). Exceptions the function throws
// become TASK_EXCEPTION errors naming the type, message, function and pid.
// Actors (docs/actors.md): a creation task (spec.actor_creation) runs the
// factory and makes this worker the actor's for good: later pushes of the
// actor's method calls pass through ActorCallOrder (each caller's calls
// in sequence-number order) and run on the instance, on the task thread,
// or with max_concurrency > 1 on that many threads at once.
// RuntimeEnv "env_vars" are set while a task runs, and for an actor's
// whole life from its creation.
// Threading: EnqueueBatch from any thread; one batch runs at a time, in
// arrival order; tasks queue up until Start(), which
// the runtime calls once the process can serve them (so a task never runs
// before the runtime it may call into is published); `done` is called on
// the task thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/rpc/server.h"
#include "plasma/client.h"
#include "proto/worker.pb.h"
#include <vector>
#include "worker/actor_call_order.h"
#include "worker/object_getter.h"
#include "worker/object_writer.h"
#include "worker/task_events.h"

namespace lumen::worker {

inline constexpr size_t kMaxInlineReturnBytes = 100 * 1024;

// Thrown by ray::ExitActor() inside a method; deliberately not a
// std::exception, so that user code catching those does not stop it.
struct ActorExitSignal {};

class TaskExecutor {
 public:
  TaskExecutor(ObjectGetter& getter, std::shared_ptr<plasma::PlasmaClient> plasma, NodeId node,
               std::string node_ip);
  ~TaskExecutor();  // Stops the thread after the running task.

  // Starts running queued and future tasks. `after_task` (may be empty)
  // runs on the task thread after each task, before its reply is sent.
  void Start(std::function<void()> after_task);

  // Runs every task of `request` in order; `done` after the last one.
  // `request` and `reply` must stay valid until `done` runs. With
  // `may_run_here`, a batch that finds the executor idle runs at once on the
  // calling thread (saving a thread hop per push); otherwise it is queued.
  void EnqueueBatch(const rpc::PushTasksRequest* request, rpc::PushTasksReply* reply, rpc::Done done,
                    bool may_run_here = false);

  // "(name pid=N)" for the task running now, or "(pid=N)" between tasks.
  std::string CurrentLogPrefix() const;

  // Called (on a task thread) after a method called ray::ExitActor(), once
  // its reply is sent: the process should end the actor for good.
  // Task events (RUNNING, FINISHED/FAILED) go here; may stay null. Before Start().
  void set_task_events(TaskEventRecorder* events) { task_events_ = events; }
  // Runs on the task's thread after each task that met ObjectRefs, before
  // its reply is sent (reference counting, core_worker_refs.cc). Before Start().
  void SetRefHook(std::function<void(TaskRefScope&, rpc::PushTaskReply*)> hook) {
    ref_hook_ = std::move(hook);
  }

  void SetActorExitHandler(std::function<void(const std::string& actor_id)> handler) {
    on_actor_exit_ = std::move(handler);
  }
  // Called (on the task's thread) when a result cannot be stored because
  // the node's object store is gone (UNAVAILABLE: its connection closed).
  // That is the node failing, not the task: a worker process ends here
  // without replying, so its caller retries the task within max_retries
  // as for any dead worker (Ray's workers die with their node). If the
  // handler returns (tests), the task is answered WORKER_DIED. Without a
  // handler the failure is the task's ObjectStoreError. Before Start().
  void SetStoreLostHandler(std::function<void(const absl::Status&)> handler) {
    on_store_lost_ = std::move(handler);
  }
  // The actor this worker hosts (binary id), empty if none; whether its
  // factory ran before in another process.
  std::string actor_id() const;
  bool actor_restarted() const;

 private:
  struct Item {
    std::vector<std::pair<const rpc::TaskSpec*, rpc::PushTaskReply*>> tasks;
    rpc::Done done;
    const rpc::Address* caller = nullptr;  // The push's; lives as long as its request.
    int64_t received_ns = 0;  // When the push arrived (task events on), else 0.
  };
  // Counts down the calls of one push running on the actor's pool.
  struct PoolBatch {
    std::atomic<int> left{0};
    rpc::Done done;
    const rpc::Address* caller = nullptr;
    int64_t received_ns = 0;
  };
  struct PoolTask {
    const rpc::TaskSpec* spec;
    rpc::PushTaskReply* reply;
    std::shared_ptr<PoolBatch> batch;
  };
  // Answers every call of `item` with `error` (type ACTOR_DIED).
  void Refuse(Item& item, const std::string& error);
  // Hands the released actor pushes to the task thread or the pool.
  void Dispatch(std::vector<Item>& ready, bool may_run_here);
  void RunOne(const rpc::TaskSpec& spec, rpc::PushTaskReply* reply, const rpc::Address* caller,
              int64_t received_ns);
  void PoolLoop();
  void CreateActor(const rpc::TaskSpec& spec, const std::vector<ray::internal::ArgView>& args,
                   rpc::PushTaskReply* reply);
  void ExecuteMethod(const rpc::TaskSpec& spec, const std::vector<ray::internal::ArgView>& args,
                     rpc::PushTaskReply* reply);
  void RunItem(Item& item);
  void Loop();
  // Points CUDA_VISIBLE_DEVICES at the task's GPUs, or back to the
  // worker's inherited value for tasks without any (cuda_visible_devices.h).
  void SetVisibleGpus(const rpc::TaskSpec& spec);
  void Execute(const rpc::TaskSpec& spec, rpc::PushTaskReply* reply);
  // The task's return object, for a result serialized in place.
  ResultTarget ReturnTarget(const rpc::TaskSpec& spec) const;
  // `result` inline, or in plasma when `target` was written or it is large.
  void StoreResult(const rpc::TaskSpec& spec, std::string&& result, const ResultTarget& target,
                   rpc::PushTaskReply* reply);
  void SetError(const rpc::TaskSpec& spec, rpc::ErrorInfo::Type type, const std::string& type_name,
                const std::string& what, rpc::PushTaskReply* reply) const;

  ObjectGetter& getter_;
  std::shared_ptr<plasma::PlasmaClient> plasma_;
  NodeId node_;
  std::string node_ip_;
  int pid_;
  std::string inherited_cuda_devices_;  // "" when the worker started without it.
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Item> queue_;
  std::string current_name_;
  bool stopping_ = false;
  bool started_ = false;
  bool running_ = false;  // A batch is executing, on the task thread or inline.
  std::function<void()> after_task_;
  TaskEventRecorder* task_events_ = nullptr;
  std::thread thread_;

  // The actor, once created (then never changed); guarded by mu_ until then.
  std::shared_ptr<void> actor_;
  std::string actor_id_;
  bool actor_restarted_ = false;
  ActorCallOrder<Item> order_;  // Guarded by mu_.
  std::function<void(const std::string&)> on_actor_exit_;
  std::function<void(const absl::Status&)> on_store_lost_;
  std::function<void(TaskRefScope&, rpc::PushTaskReply*)> ref_hook_;
  std::deque<PoolTask> pool_queue_;  // Guarded by mu_; max_concurrency > 1 only.
  std::condition_variable pool_cv_;
  std::vector<std::thread> pool_;
  std::atomic<bool> exiting_actor_{false};  // A method called ray::ExitActor().
  std::atomic<bool> exit_reported_{false};
  void ReportExitOnce();
};

}  // namespace lumen::worker
