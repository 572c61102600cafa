// worker/task_events.h
//
// TaskEventRecorder records the state changes of tasks and actor calls in
// this process (docs/observability.md) and sends them to the GCS in
// batches. The caller's side records PENDING_ARGS_AVAIL (submitted),
// PENDING_NODE_ASSIGNMENT (ObjectRef arguments ready; tasks without any skip
// it), SUBMITTED_TO_WORKER (with the
// leased worker) and how the reply ended the task; the executing worker
// records RUNNING and FINISHED/FAILED with its node, worker id and pid.
// The GCS merges both sides by task id and attempt.
//
// Cost on the task path: one uncontended mutex and a copy of a few ids into
// a preallocated slot; slots are reused, so after warm-up a record
// allocates nothing. The buffer is bounded (`buffer_size` events): when it
// is full an event is counted as dropped, never waited for. A flusher
// thread swaps the buffer for a second one and sends it (AddTaskEventData)
// about every `flush_interval_ms`, sooner when the buffer is half full or
// the process has gone quiet (a worker may be killed at any time after its
// last task), and once more at Stop(); it runs at a lower priority (nice
// 10) than the task threads. A batch folds each task attempt's changes
// into one event per side. The dropped count travels with each batch. Disabled (LUMEN_TASK_EVENTS=0), every record is one branch.
//
// Threading: the Record methods from any thread; Start/Stop from the owner.
// Failure: a batch the GCS does not take is counted as dropped.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "proto/common.pb.h"
#include "proto/task_events.pb.h"

namespace lumen::worker {

struct TaskEventOptions {
  bool enabled = true;
  size_t buffer_size = 10'000;  // Events held between two flushes.
  int flush_interval_ms = 1000;
  // LUMEN_TASK_EVENTS=0 disables; LUMEN_TASK_EVENTS_BUFFER=N sets
  // buffer_size (tests); LUMEN_TASK_EVENTS_FLUSH_MS the interval.
  static TaskEventOptions FromEnv();
};

class TaskEventRecorder {
 public:
  using Sender = std::function<absl::Status(const rpc::AddTaskEventDataRequest&)>;

  // `send` runs on the flusher thread and may block (a bounded RPC).
  TaskEventRecorder(TaskEventOptions options, Sender send);
  ~TaskEventRecorder();  // Stop().

  // Who this process is: executor events carry it. Before Start().
  void SetProcess(const std::string& job_id, const std::string& node_id,
                  const std::string& worker_id);
  void Start();
  // Sends what is buffered and stops the flusher. Idempotent.
  void Stop();
  bool enabled() const { return options_.enabled; }

  // The caller's side.
  void Submitted(const rpc::TaskSpec& spec) { Record(spec, rpc::PENDING_ARGS_AVAIL, nullptr, 0, nullptr); }
  void ArgsReady(const rpc::TaskSpec& spec) { Record(spec, rpc::PENDING_NODE_ASSIGNMENT, nullptr, 0, nullptr); }
  // `worker` null when the caller does not know it (actor calls).
  void Pushed(const rpc::TaskSpec& spec, const rpc::Address* worker, int32_t pid) {
    Record(spec, rpc::SUBMITTED_TO_WORKER, worker, pid, nullptr);
  }
  // The reply or failure that ended the task, as the caller saw it.
  void Ended(const rpc::TaskSpec& spec, const rpc::ErrorInfo& error) {
    Record(spec, error.type() == rpc::ErrorInfo::NONE ? rpc::FINISHED : rpc::FAILED, nullptr, 0, &error);
  }
  // The executor's side.
  void Running(const rpc::TaskSpec& spec) { Record(spec, rpc::RUNNING, nullptr, -1, nullptr); }
  void Executed(const rpc::TaskSpec& spec, const rpc::ErrorInfo& error) {
    Record(spec, error.type() == rpc::ErrorInfo::NONE ? rpc::FINISHED : rpc::FAILED, nullptr, -1, &error);
  }

  // For tests: events dropped so far and batches sent.
  int64_t dropped_total() const;
  int64_t batches_sent() const;

 private:
  struct Slot {
    std::string task_id, job_id, actor_id, parent_task_id, function_name, name;
    std::string node_id, worker_id, error_type, error_message;
    int32_t attempt = 0;
    int32_t worker_pid = 0;
    int64_t time_ns = 0;
    rpc::TaskState state = rpc::TASK_STATE_NIL;
    rpc::TaskType type = rpc::NORMAL_TASK;
    bool described = false;  // Carries name, function, type, actor, parent.
    bool executor = false;   // Carries this process as where it ran.
  };

  // `pid` -1: this process executes it.
  void Record(const rpc::TaskSpec& spec, rpc::TaskState state, const rpc::Address* worker,
              int32_t pid, const rpc::ErrorInfo* error);
  void FlushLoop();
  // Swaps the buffer out and sends it, each task attempt's changes (per
  // side) folded into one event (flusher thread, or Stop()).
  void Flush();
  void AddTo(const Slot& slot, rpc::TaskEvent* event) const;

  const TaskEventOptions options_;
  const Sender send_;
  const int32_t pid_;
  std::string job_id_, node_id_, worker_id_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Slot> active_;  // Guarded by mu_: slots [0, used_) hold events.
  size_t used_ = 0;           // Guarded by mu_.
  int64_t dropped_ = 0;       // Guarded by mu_: since the last batch.
  int64_t dropped_total_ = 0;  // Guarded by mu_.
  uint64_t recorded_ = 0;     // Guarded by mu_: ever, to see quiet spells.
  bool stopping_ = false;     // Guarded by mu_.
  int64_t batches_sent_ = 0;  // Guarded by mu_.

  std::mutex flush_mu_;        // One flush at a time (the flusher or Stop).
  std::vector<Slot> sending_;  // Guarded by flush_mu_.
  // Guarded by flush_mu_: (task id, attempt << 1 | executor) -> its event.
  absl::flat_hash_map<std::pair<std::string_view, int64_t>, rpc::TaskEvent*> fold_;
  // The first block of each batch's arena (touched only as far as used).
  static constexpr size_t kArenaBlockBytes = 1 << 20;
  static constexpr size_t kEventsPerMessage = 4096;  // Folded events: ~600 KiB.
  std::unique_ptr<char[]> arena_block_{new char[kArenaBlockBytes]};  // Guarded by flush_mu_.
  std::thread flusher_;
};

}  // namespace lumen::worker
