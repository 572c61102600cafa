// gcs/task_event_store.h
//
// TaskEventStore keeps what the GCS knows of tasks and actor calls: the
// events that workers and drivers send (AddTaskEventData) merged into one
// entry per task attempt (task id + attempt). The submitter's events describe
// the task (name, function, type, actor, parent, the worker it was pushed
// to); the executor's say where it ran and how it ended. Each state keeps the
// earliest time reported for it, and the entry's state is the furthest one
// reached (FINISHED/FAILED win over RUNNING whatever the arrival order).
//
// Bounded: each job keeps its `max_tasks_per_job` most recently created
// entries; an older one is evicted (counted per job as `evicted`). Events
// lost in the senders' buffers are counted per job as `dropped_at_source`.
// Both counts are reported with every query, so a listing says how much it
// misses. An event for an evicted entry starts a new, partial one.
//
// Pure bookkeeping, no I/O, no clock. Threading: not thread-safe; the GCS
// loop owns it.
#pragma once

#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <utility>

#include "absl/container/flat_hash_map.h"
#include "proto/task_events.pb.h"

namespace lumen::gcs {

struct TaskEventStoreOptions {
  int64_t max_tasks_per_job = 100'000;  // `lumen-gcs --task-events-max-per-job`.
};

class TaskEventStore {
 public:
  explicit TaskEventStore(TaskEventStoreOptions options) : options_(options) {}

  void Add(const rpc::AddTaskEventDataRequest& request);
  // The entries matching `request`'s job and task filters, the most recent
  // `limit` of them (oldest first), the count before the limit, and the
  // dropped counts of the jobs asked about.
  rpc::GetTaskEventsReply Get(const rpc::GetTaskEventsRequest& request) const;

  size_t NumTasks() const { return num_tasks_; }

 private:
  // (task id, attempt); the id points into the entry's own task_id, which
  // stays put while the entry lives (list nodes do not move).
  using Key = std::pair<std::string_view, int32_t>;
  struct JobTasks {
    std::list<rpc::TaskInfoEntry> entries;  // Oldest first.
    absl::flat_hash_map<Key, std::list<rpc::TaskInfoEntry>::iterator> index;
    int64_t dropped_at_source = 0;
    int64_t evicted = 0;
  };

  static void Merge(rpc::TaskInfoEntry& entry, const rpc::TaskEvent& event);
  JobTasks& Job(const std::string& job_id) { return jobs_[job_id]; }
  void AddEvent(const rpc::TaskEvent& event);

  const TaskEventStoreOptions options_;
  absl::flat_hash_map<std::string, JobTasks> jobs_;
  size_t num_tasks_ = 0;
};

}  // namespace lumen::gcs
