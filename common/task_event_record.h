// common/task_event_record.h
//
// TaskEventRecord: one state change of one task attempt, as a fixed-size
// plain struct. Workers and drivers write these into a preallocated buffer
// (worker/task_events.h) and send the buffer as one `bytes` field of
// AddTaskEventDataRequest; the GCS keeps the bytes and reads them back only
// when a query asks (gcs/task_event_store.h). Strings that repeat (job,
// function, actor, node and worker ids, error types) are small indices into
// the request's `strings` side table (0: empty); a task id of up to
// kInlineTaskId bytes travels inline, a longer one through the table.
//
// Layout: host byte order, no padding holes left uninitialized (the sender
// zero-fills); `record_size` in the request must equal sizeof.
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>
#include <type_traits>

namespace lumen {

struct TaskEventRecord {
  static constexpr size_t kInlineTaskId = 24;
  enum Flags : uint8_t {
    kExecutor = 1,   // Recorded by the process that ran it (node/worker: the sender's).
    kDescribed = 2,  // Carries the description (name, function, type, actor, parent).
  };

  int64_t time_ns = 0;  // Wall clock, ns since the epoch.
  // The executor's one record per task (its end, or RUNNING while it runs)
  // also carries when the push reached it (SUBMITTED_TO_WORKER) and when
  // the task started (RUNNING); 0: not carried.
  int64_t received_ns = 0;
  int64_t running_ns = 0;
  int32_t attempt = 0;
  int32_t pid = 0;  // Submitter pid (PENDING_ARGS_AVAIL) or the worker's pid.
  uint32_t job = 0;
  uint32_t task_id_str = 0;  // Task id through the table when longer than inline.
  uint32_t function_name = 0;
  uint32_t name = 0;
  uint32_t actor_id = 0;
  uint32_t parent_task_id = 0;
  uint32_t node_id = 0;
  uint32_t worker_id = 0;
  uint32_t error_type = 0;
  uint32_t error_message = 0;
  uint8_t state = 0;  // rpc::TaskState.
  uint8_t type = 0;   // rpc::TaskType.
  uint8_t flags = 0;
  uint8_t task_id_len = 0;  // Inline bytes used.
  char task_id[kInlineTaskId] = {};

  // The task id, given the table for a long one.
  template <typename Table>
  std::string_view TaskId(const Table& strings) const {
    if (task_id_str != 0) return strings[task_id_str];
    return std::string_view(task_id, task_id_len);
  }
};

static_assert(std::is_trivially_copyable_v<TaskEventRecord>);
static_assert(sizeof(TaskEventRecord) == 104, "the wire layout changed: bump record_size users");

}  // namespace lumen
