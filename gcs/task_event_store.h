// gcs/task_event_store.h
//
// TaskEventStore keeps what the GCS knows of tasks and actor calls. Workers
// and drivers send batches of fixed-size records (AddTaskEventData: a
// `bytes` field of 48-byte CompactTaskEventRecord structs, or 104-byte
// TaskEventRecord ones, plus a side table of strings,
// common/task_event_record.h); a compact record is expanded only when a
// query reads it. Ingest does no per-task work: a batch is kept
// as it came, appended to its job's window (a scan of its records' job
// indices is all it reads). Records are merged into one entry per task
// attempt (task id + attempt) only when GetTaskEvents asks, at O(records)
// per query. The submitter's records describe the task (name, function,
// type, actor, parent); the executor's say where it ran, when it arrived
// there and started, and how it ended. Each state keeps the earliest time reported
// for it, and the entry's state is the furthest one reached
// (FINISHED/FAILED win over RUNNING whatever the arrival order).
//
// Bounded, approximately: each job keeps its most recent batches up to
// `max_tasks_per_job * kRecordsPerTask` records (a task makes 2 to 5
// records: the caller's submitted / args ready / failed and the executor's
// end, plus RUNNING when a flush found it running; 6 is kept as a margin
// over the most), so at least about the most recent
// `max_tasks_per_job` tasks; older batches are evicted whole, and the tasks
// whose submission they held are counted per job as `evicted`. A query
// shows at most `max_tasks_per_job` entries per job (the most recently
// created) and counts the rest as evicted too. A task whose first records
// were evicted shows as a partial entry. Events lost in the senders'
// buffers are counted per job as `dropped_at_source`. Both counts come with
// every query, so a listing says how much it misses.
//
// Older senders' folded `events` are converted to records on ingest.
//
// Pure bookkeeping, no I/O, no clock. Threading: not thread-safe; the GCS
// loop owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/task_event_record.h"
#include "proto/task_events.pb.h"

namespace lumen::gcs {

struct TaskEventStoreOptions {
  int64_t max_tasks_per_job = 100'000;  // `lumen-gcs --task-events-max-per-job`.
};

class TaskEventStore {
 public:
  // Records kept per task of the window (see above).
  static constexpr int64_t kRecordsPerTask = 6;

  explicit TaskEventStore(TaskEventStoreOptions options) : options_(options) {}

  // InvalidArgument (nothing kept) for records of another layout or size.
  // Takes the records out of `request` (no copy of the batch's bytes).
  absl::Status Add(rpc::AddTaskEventDataRequest& request);
  absl::Status Add(rpc::AddTaskEventDataRequest&& request) { return Add(request); }
  // The entries matching `request`'s job and task filters, the most recent
  // `limit` of them (oldest first), the count before the limit, and the
  // dropped counts of the jobs asked about.
  rpc::GetTaskEventsReply Get(const rpc::GetTaskEventsRequest& request) const;

  // Records held, over all jobs.
  int64_t NumRecords() const { return num_records_; }

 private:
  struct Batch {
    std::string records;  // CompactTaskEventRecord or TaskEventRecord structs.
    int32_t record_size = 0;  // Which of the two.
    std::vector<std::string> strings;
    uint32_t self_node = 0, self_worker = 0;  // The sender's, for compact executor records.

    size_t size() const { return records.size() / static_cast<size_t>(record_size); }
    TaskEventRecord At(size_t i) const;  // Expanded.
    // What ingest reads of record `i`: its job's index, state and flags.
    void Head(size_t i, uint32_t& job, uint8_t& state, uint8_t& flags) const;
  };
  // One job's share of a batch.
  struct Part {
    std::shared_ptr<const Batch> batch;
    uint32_t job = 0;         // The job's index in the batch's strings.
    int64_t records = 0;      // Records of this job.
    int64_t submissions = 0;  // Of them, PENDING_ARGS_AVAIL by a caller.
  };
  struct JobTasks {
    std::deque<Part> parts;  // Oldest first.
    uint64_t next_seq = 0;   // Of the next part; parts_[i] has next_seq - size + i.
    int64_t records = 0;
    int64_t dropped_at_source = 0;
    int64_t evicted = 0;  // Tasks whose submission was evicted before a query merged it.
    // The entries merged so far, in creation order, at most
    // max_tasks_per_job (a query merges only the parts added since the
    // last one, so a dashboard polling often pays for each record once).
    std::deque<rpc::TaskInfoEntry> merged;
    uint64_t merged_base = 0;  // The position of merged.front() since the start.
    absl::flat_hash_map<std::pair<std::string, int32_t>, uint64_t> index;  // -> position.
    uint64_t merged_seq = 0;  // Parts before this sequence number are merged.
    int64_t trimmed = 0;      // Entries pushed out of `merged`.
  };

  void AddBatch(std::shared_ptr<const Batch> batch);
  // Merges the parts of `job` no query has merged yet, and trims its
  // entries to max_tasks_per_job (the most recent).
  void Merge(JobTasks& job) const;

  const TaskEventStoreOptions options_;
  // Mutable: a query merges lazily (loop thread only).
  mutable absl::flat_hash_map<std::string, JobTasks> jobs_;
  int64_t num_records_ = 0;
};

}  // namespace lumen::gcs
