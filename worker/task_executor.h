// worker/task_executor.h
//
// TaskExecutor runs pushed tasks on one dedicated thread, in arrival order:
// it resolves ObjectRef arguments to their bytes (through ObjectGetter),
// finds the function by name in the FunctionRegistry, runs it, and puts
// the result in the reply: inline up to kMaxInlineReturnBytes, else sealed
// (and pinned) in the node's plasma store. Exceptions the function throws
// become TASK_EXCEPTION errors naming the type, message, function and pid.
// Threading: EnqueueBatch from any thread; one batch runs at a time, in
// arrival order; tasks queue up until Start(), which
// the runtime calls once the process can serve them (so a task never runs
// before the runtime it may call into is published); `done` is called on
// the task thread.
#pragma once

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
#include "worker/object_getter.h"

namespace lumen::worker {

inline constexpr size_t kMaxInlineReturnBytes = 100 * 1024;

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

 private:
  struct Item {
    std::vector<std::pair<const rpc::TaskSpec*, rpc::PushTaskReply*>> tasks;
    rpc::Done done;
  };
  void RunItem(Item& item);
  void Loop();
  // Points CUDA_VISIBLE_DEVICES at the task's GPUs, or back to the
  // worker's inherited value for tasks without any (cuda_visible_devices.h).
  void SetVisibleGpus(const rpc::TaskSpec& spec);
  void Execute(const rpc::TaskSpec& spec, rpc::PushTaskReply* reply);
  void StoreResult(const rpc::TaskSpec& spec, std::string&& result, rpc::PushTaskReply* reply);
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
  std::thread thread_;
};

}  // namespace lumen::worker
