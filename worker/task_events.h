// worker/task_events.h
//
// TaskEventRecorder records the state changes of tasks and actor calls in
// this process (docs/observability.md) and sends them to the GCS in
// batches. Two records per task that succeeds, both the caller's:
// PENDING_ARGS_AVAIL (submitted) and its end, FINISHED or FAILED, recorded
// when the worker's reply arrives and carrying what the worker put in the
// reply: its pid, node and worker id, when the push reached it
// (SUBMITTED_TO_WORKER) and when the task started (RUNNING). Tasks with
// ObjectRef arguments add PENDING_NODE_ASSIGNMENT (arguments ready); a task
// that ends without a reply (a dead worker, a refused lease) is recorded
// FAILED by the caller. The executing worker records a task only when a
// flush finds it running for at least `running_after_ms` (RUNNING, with
// its node, worker and pid), so a burst of short tasks costs it no record
// and no message, and a worker killed at its job's end (SIGKILL, no last
// flush) loses nothing. The GCS merges the records by task id and attempt.
//
// Cost on the task path: in the caller, per record one uncontended mutex
// and one 48-byte Compact record written into a bounded buffer of the
// recording thread's own (no lock or cache line shared with the process's
// other recording threads): strings as 16-bit indices into a side table
// interned per buffer (a repeat costs a compare against the last value of
// that field, else one hash lookup). Submissions come in bursts, from the
// owner's loop (SubmittedAll): one clock read and one lock per burst. No
// allocation after warm-up. In the
// executor, per push one clock read and its identity copied into the reply;
// per task one clock read and two short holds of a mutex of its own
// (Running, Executed). A buffer is bounded (`buffer_size` records): when it
// is full a record is counted as dropped (one atomic add: no lock, no clock
// read), never waited for. A flusher thread swaps each thread's buffer
// for an empty one and sends it (AddTaskEventData: the 48-byte records as
// they are, common/task_event_record.h, in one `bytes` field, plus the
// side table; the GCS expands them only when asked) about every
// `flush_interval_ms`, sooner when a buffer is half full (its recording
// thread wakes the flusher then: at a burst's rate a buffer fills within
// one of the flusher's 100 ms ticks, and waiting for the tick dropped most
// of a 100,000-task burst's records) or the process
// has gone quiet (a worker may be killed at any time after its last task),
// and once more at Stop(); it runs at a lower priority (nice 10) than the
// task threads. The dropped count travels with each batch. Disabled
// (LUMEN_TASK_EVENTS=0), every record is one branch.
//
// Threading: the Record methods from any thread; Start/Stop from the owner.
// Failure: a batch the GCS does not take is counted as dropped.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
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
#include "common/task_event_record.h"
#include "proto/common.pb.h"
#include "proto/task_events.pb.h"
#include "proto/worker.pb.h"

namespace lumen::worker {

struct TaskEventOptions {
  bool enabled = true;
  // Events held between two flushes, per recording thread: Ray's default
  // (task_events_max_num_status_events_buffer_on_worker), so that a burst
  // is sent in a few large messages, not many small ones (each costs the
  // flusher, gRPC and the GCS a wake-up and a message of their own).
  size_t buffer_size = 100'000;
  int flush_interval_ms = 1000;
  // A task this process runs is reported RUNNING by the first flush after
  // it has run this long (and at Stop), so a burst of short tasks costs the
  // executor no record and no message; a long one shows as running within
  // about this plus 100 ms.
  int running_after_ms = 200;
  // LUMEN_TASK_EVENTS=0 disables; LUMEN_TASK_EVENTS_BUFFER=N sets
  // buffer_size (tests); LUMEN_TASK_EVENTS_FLUSH_MS the interval;
  // LUMEN_TASK_EVENTS_RUNNING_MS running_after_ms.
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
  // Recording now: enabled at start and not paused.
  bool enabled() const { return recording_.load(std::memory_order_relaxed); }
  // For benchmarks (worker/runtime.h): pauses or resumes recording while
  // the process runs, so that one run can measure both ways; a no-op where
  // events were disabled at start. What is buffered is still sent.
  void SetRecording(bool on);
  // Sends what is buffered now, on the calling thread (benchmarks: each
  // round's records sent within its own timed window).
  void FlushNow();

  // The caller's side.
  void Submitted(const rpc::TaskSpec& spec) { Record(spec, rpc::PENDING_ARGS_AVAIL, {}, {}, 0, nullptr); }
  // A burst of submissions, recorded with one clock read and one lock:
  // the owner's loop takes them (CoreWorker::DrainSubmitted). With
  // `normal_only`, actor calls among them (recorded when submitted) are
  // skipped.
  void SubmittedAll(const rpc::TaskSpec* specs, size_t n, bool normal_only = false);
  void ArgsReady(const rpc::TaskSpec& spec) { Record(spec, rpc::PENDING_NODE_ASSIGNMENT, {}, {}, 0, nullptr); }
  // The worker's reply ended the task: its end (FINISHED, or FAILED with
  // the task's error), with who ran it (`batch`, stamped by the executor)
  // and when it arrived there and started (`reply`).
  void Replied(const rpc::TaskSpec& spec, const rpc::PushTaskReply& reply, const rpc::PushTasksReply& batch);
  // The task failed without a reply of its worker (a dead worker, a
  // refused lease, a failed argument).
  void Ended(const rpc::TaskSpec& spec, const rpc::ErrorInfo& error) {
    Record(spec, error.type() == rpc::ErrorInfo::NONE ? rpc::FINISHED : rpc::FAILED, {}, {}, 0, &error);
  }
  // The executor's side, which records nothing for a task that ends with a
  // reply: `spec` starts running (its push arrived at `received_ns`, 0:
  // unknown). `spec` must stay valid until Executed(spec) on the same
  // object; a flush meanwhile records it RUNNING.
  void Running(const rpc::TaskSpec& spec, int64_t received_ns);
  // `spec` ended; returns when it started (0 when disabled), for its reply.
  int64_t Executed(const rpc::TaskSpec& spec);
  // Who runs the tasks of `reply` (this process), for the caller's records.
  void StampExecutor(rpc::PushTasksReply* reply) const;

  // The wall clock of the records, in ns since the epoch.
  static int64_t NowNs();

  // For tests: events dropped so far, flushes sent, and the buffers of
  // recording threads held.
  int64_t dropped_total() const;
  int64_t batches_sent() const;
  size_t thread_buffers() const;

 private:
  // What a recording thread writes per record, and the wire carries: 48
  // bytes (common/task_event_record.h), where the expanded TaskEventRecord
  // has 104. What is written per task, not only what is sent, was the cost
  // of task events on the task path: each byte a recording thread writes
  // evicts a byte of the task path's own data from its core's cache
  // (docs/observability.md). String indices are 16-bit: a buffer whose side
  // table could not take a record's strings is full (the record is dropped
  // and counted).
  using Compact = CompactTaskEventRecord;
  static constexpr uint8_t kSplitTaskId = Compact::kSplitTaskId;
  static constexpr uint8_t kShortTaskId = Compact::kShortTaskId;
  static constexpr size_t kMaxStrings = 0xFFFF;
  static constexpr size_t kStringsPerRecord = 10;  // At most, new ones.

  // A buffer of records and the side table its string indices point into.
  struct Buffer {
    std::vector<Compact> records;
    bool has_executor = false;  // A record of this process as the executor is there.
    // [0] is "". A deque: its elements stay where they are, so `index`
    // and `last` view them, and a lookup allocates nothing.
    std::deque<std::string> strings;
    absl::flat_hash_map<std::string_view, uint32_t> index;
    // Per field, the last string interned and its index: repeats (the
    // common case) skip the hash.
    static constexpr int kFields = 9;
    std::string_view last[kFields];
    uint32_t last_index[kFields] = {};
    void Clear();
    // Inline where Write calls it: a repeat of the field's last value (the
    // common case) is a compare; only a new value pays InternSlow's call,
    // whose frame (a hash lookup, an insert) cost every call as much as
    // the compare when it was one function.
    inline uint32_t Intern(int field, std::string_view value);
    uint32_t InternSlow(int field, std::string_view value);
  };
  enum Field { kJob, kFunction, kName, kActor, kParent, kNode, kWorker, kError, kTaskRest };

  // A task this process runs now (Running, not yet Executed).
  struct RunningTask {
    const rpc::TaskSpec* spec;
    int64_t received_ns;
    int64_t running_ns;
    bool reported;  // Its RUNNING record was written by a flush.
  };

  // The records of one recording thread. Only that thread appends to
  // `active`; the flusher takes `mu` to swap it out, so the task path
  // never shares a lock or a cache line with another recording thread (a
  // caller's submitting thread and its reply thread were the cost when
  // they shared one buffer: docs/observability.md).
  struct ThreadBuffer {
    std::mutex mu;
    Buffer active;          // Guarded by mu.
    uint64_t recorded = 0;  // Guarded by mu: ever, to see quiet spells.
    int64_t dropped = 0;    // Guarded by mu: since the last swap.
    // `active` is full: a record is counted here and dropped without
    // taking `mu` or reading the clock. Cleared at the swap.
    std::atomic<bool> full{false};
    std::atomic<int64_t> full_drops{0};
    // Its thread exited, or records to another recorder now: it gets no
    // more records, and the flusher drops it once it has sent what it held.
    std::atomic<bool> orphaned{false};
  };
  // This thread's buffer for this recorder (the last recorder a thread
  // recorded to is remembered; switching makes a new buffer).
  struct ThreadSlot {
    uint64_t owner = 0;  // The recorder's id_.
    std::shared_ptr<ThreadBuffer> buffer;
    ~ThreadSlot();
  };
  static thread_local ThreadSlot t_slot_;
  ThreadBuffer& Mine();

  // Which task attempt a record is of.
  struct Ident {
    std::string_view task_id, job_id;
    int64_t attempt = 0;
    static Ident Of(const rpc::TaskSpec& spec) { return {spec.task_id(), spec.job_id(), spec.attempt()}; }
  };
  // `pid` -1: this process executes it. `time_ns` 0: read the clock.
  // `ident` null: the spec's.
  void Record(const rpc::TaskSpec& spec, rpc::TaskState state, std::string_view node_id,
              std::string_view worker_id, int32_t pid, const rpc::ErrorInfo* error, int64_t time_ns = 0,
              int64_t received_ns = 0, int64_t running_ns = 0, const Ident* ident = nullptr);
  // Appends one record of `ident` to `mine` (its mu held); `spec` is read
  // only for a record that describes the task (see Write). True when that
  // made the buffer half full, for the caller to wake the flusher once
  // `mu` is released.
  bool Write(ThreadBuffer& mine, const Ident& ident, const rpc::TaskSpec& spec, rpc::TaskState state,
             std::string_view node_id, std::string_view worker_id, int32_t pid, const rpc::ErrorInfo* error,
             int64_t now, int64_t received_ns, int64_t running_ns);
  // Running tasks are due a RUNNING record once they started at or before
  // this: running_after_ms ago.
  int64_t RunningCutoffNs() const;
  // Writes a RUNNING record for each running task without one yet that
  // started at or before `cutoff_ns`, before a flush.
  void RecordRunning(int64_t cutoff_ns);
  // A running task without a record started at or before `cutoff_ns`.
  bool RunningDue(int64_t cutoff_ns);
  // A buffer is half full: flush now rather than at the next tick (at a
  // burst's rate a buffer fills well within a tick). Takes mu_: never
  // with a thread buffer's mu held.
  void WakeFlusher();
  void FlushLoop();
  // Swaps every thread's buffer out and sends it (flusher thread, or Stop()).
  void Flush(bool final = false);
  // Sends wire_ (in messages of kRecordsPerMessage records), the first
  // message carrying `dropped`; adds what was not taken to the lost counts.
  void Send(int64_t dropped, bool& all_sent, int64_t& lost_events, int64_t& lost_dropped);

  const TaskEventOptions options_;
  const Sender send_;
  const int32_t pid_;
  const uint64_t id_;  // Unique in the process: the key of t_slot_.
  std::atomic<bool> recording_;  // options_.enabled, unless paused.
  std::string job_id_, node_id_, worker_id_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::shared_ptr<ThreadBuffer>> threads_;  // Guarded by mu_.
  int64_t dropped_ = 0;        // Guarded by mu_: lost sends, for the next batch.
  int64_t dropped_total_ = 0;  // Guarded by mu_.
  bool stopping_ = false;      // Guarded by mu_.
  bool wake_ = false;          // Guarded by mu_: a buffer is half full.
  int64_t batches_sent_ = 0;   // Guarded by mu_.

  // Taken before a thread buffer's mu where both are held (RecordRunning).
  std::mutex running_mu_;
  std::vector<RunningTask> running_;  // Guarded by running_mu_; a few at most.
  std::atomic<int> running_unreported_{0};  // Entries of running_ not reported.

  std::mutex flush_mu_;  // One flush at a time (the flusher or Stop).
  Buffer sending_;       // Guarded by flush_mu_.
  rpc::AddTaskEventDataRequest request_;  // Guarded by flush_mu_: Send's, reused.
  // Records per message: 48 bytes each, well under gRPC's 4 MiB.
  static constexpr size_t kRecordsPerMessage = 32768;
  std::thread flusher_;
};

}  // namespace lumen::worker
