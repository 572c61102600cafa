// common/task_event_record.h
//
// TaskEventRecord: one state change of one task attempt, as a fixed-size
// plain struct; CompactTaskEventRecord, below, the 48-byte form workers and
// drivers write into a preallocated buffer (worker/task_events.h) and send
// as one `bytes` field of AddTaskEventDataRequest (`record_size` says which
// form); the GCS keeps the bytes as they came and expands them only when a
// query asks (gcs/task_event_store.h). Strings that repeat (job,
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

// The form a recording thread writes and (record_size 48) the wire carries:
// 48 bytes where TaskEventRecord has 104, expanded into one only where it is
// read (ExpandTaskEventRecord: the GCS at query time, tests). Times:
// `time_ns` whole; the push's arrival and the task's start as µs before it
// (+1; 0: not carried, or more than 71 minutes before, when the executor's
// RUNNING record has them). A 24-byte task id as its first 8 bytes and the
// other 16 through the side table (kSplitTaskId); one of up to 8 bytes
// inline (kShortTaskId, `task_rest` its length); another length through the
// table whole. String indices are 16-bit. The four strings are the
// description (function, name, actor, parent) when kDescribed, else the end
// (node, worker, error type, message). A kExecutor record's node and worker
// are the sender's (the request's `self_node` / `self_worker`).
struct CompactTaskEventRecord {
  static constexpr uint8_t kSplitTaskId = 0x80;
  static constexpr uint8_t kShortTaskId = 0x40;

  int64_t time_ns = 0;
  uint64_t task_lo = 0;
  uint32_t received_us = 0;
  uint32_t running_us = 0;
  int32_t pid = 0;
  uint16_t task_rest = 0;
  uint16_t attempt = 0;  // Saturates at 65,535.
  uint16_t job = 0;
  uint16_t s[4] = {};
  uint8_t state = 0, type = 0, flags = 0;
  uint8_t reserved[3] = {};  // No padding left uninitialized on the wire.
};

static_assert(std::is_trivially_copyable_v<CompactTaskEventRecord>);
static_assert(sizeof(CompactTaskEventRecord) == 48, "the compact wire layout changed");

// `c` as a TaskEventRecord. `strings` is its batch's side table (any
// container of strings with size() and operator[]); an index past its end
// reads as empty, so a malformed batch yields empty fields, never a read out
// of bounds.
template <typename Table>
TaskEventRecord ExpandTaskEventRecord(const CompactTaskEventRecord& c, const Table& strings, uint32_t self_node,
                                      uint32_t self_worker) {
  auto at = [&strings](uint32_t i) -> std::string_view {
    return i < static_cast<size_t>(strings.size()) ? std::string_view(strings[static_cast<int>(i)])
                                                   : std::string_view();
  };
  TaskEventRecord r;  // Zero-filled.
  r.time_ns = c.time_ns;
  if (c.received_us != 0) r.received_ns = c.time_ns - int64_t{c.received_us - 1} * 1000;
  if (c.running_us != 0) r.running_ns = c.time_ns - int64_t{c.running_us - 1} * 1000;
  r.attempt = c.attempt;
  r.pid = c.pid;
  r.state = c.state;
  r.type = c.type;
  r.flags = c.flags & ~(CompactTaskEventRecord::kSplitTaskId | CompactTaskEventRecord::kShortTaskId);
  r.job = c.job;
  constexpr size_t kLo = sizeof(c.task_lo);
  if (c.flags & CompactTaskEventRecord::kShortTaskId) {
    const size_t len = c.task_rest < kLo ? c.task_rest : kLo;
    std::memcpy(r.task_id, &c.task_lo, len);
    r.task_id_len = static_cast<uint8_t>(len);
  } else if (c.flags & CompactTaskEventRecord::kSplitTaskId) {
    const std::string_view rest = at(c.task_rest);
    std::memcpy(r.task_id, &c.task_lo, kLo);
    const size_t len = rest.size() < TaskEventRecord::kInlineTaskId - kLo ? rest.size()
                                                                          : TaskEventRecord::kInlineTaskId - kLo;
    if (len > 0) std::memcpy(r.task_id + kLo, rest.data(), len);  // data() may be null when empty.
    r.task_id_len = static_cast<uint8_t>(kLo + len);
  } else if (const std::string_view id = at(c.task_rest); id.size() <= TaskEventRecord::kInlineTaskId) {
    if (!id.empty()) std::memcpy(r.task_id, id.data(), id.size());
    r.task_id_len = static_cast<uint8_t>(id.size());
  } else {
    r.task_id_str = c.task_rest;
  }
  if (c.flags & TaskEventRecord::kDescribed) {
    r.function_name = c.s[0];
    r.name = c.s[1];
    r.actor_id = c.s[2];
    r.parent_task_id = c.s[3];
  } else {
    r.node_id = c.s[0];
    r.worker_id = c.s[1];
    r.error_type = c.s[2];
    r.error_message = c.s[3];
  }
  if (c.flags & TaskEventRecord::kExecutor) {  // The sender: its node and worker.
    r.node_id = self_node;
    r.worker_id = self_worker;
  }
  return r;
}

}  // namespace lumen
