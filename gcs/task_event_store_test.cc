#include "gcs/task_event_store.h"

#include <catch2/catch.hpp>
#include <cstring>

#include "common/task_event_record.h"

using namespace lumen;
using namespace lumen::gcs;

namespace {

const std::string kJob1("\x01\x00\x00\x00", 4);
const std::string kJob2("\x02\x00\x00\x00", 4);

rpc::TaskEvent Event(const std::string& task, rpc::TaskState state, int64_t time_ns,
                     const std::string& job = kJob1, int attempt = 0) {
  rpc::TaskEvent e;
  e.set_task_id(task);
  e.set_attempt(attempt);
  e.set_job_id(job);
  rpc::TaskStateTime* change = e.add_states();
  change->set_state(state);
  change->set_time_ns(time_ns);
  return e;
}

rpc::AddTaskEventDataRequest Batch(std::vector<rpc::TaskEvent> events, int64_t dropped = 0,
                                   const std::string& job = kJob1) {
  rpc::AddTaskEventDataRequest request;
  request.set_job_id(job);
  request.set_dropped(dropped);
  for (auto& e : events) *request.add_events() = std::move(e);
  return request;
}

// A batch of expanded records (the form older senders and tests use).
struct RecordBatch {
  rpc::AddTaskEventDataRequest request;
  RecordBatch() {
    request.set_record_size(sizeof(TaskEventRecord));
    request.add_strings("");
  }
  uint32_t Str(const std::string& s) {
    for (int i = 0; i < request.strings_size(); ++i) {
      if (request.strings(i) == s) return static_cast<uint32_t>(i);
    }
    request.add_strings(s);
    return static_cast<uint32_t>(request.strings_size() - 1);
  }
  TaskEventRecord& Add(const std::string& task, rpc::TaskState state, int64_t time_ns,
                       const std::string& job = kJob1) {
    TaskEventRecord r;
    std::memcpy(r.task_id, task.data(), task.size());
    r.task_id_len = static_cast<uint8_t>(task.size());
    r.state = static_cast<uint8_t>(state);
    r.time_ns = time_ns;
    r.job = Str(job);
    records.push_back(r);
    return records.back();
  }
  rpc::AddTaskEventDataRequest Done() {  // A copy: Add takes the records out of what it is given.
    request.set_records(reinterpret_cast<const char*>(records.data()), records.size() * sizeof(TaskEventRecord));
    return request;
  }
  std::vector<TaskEventRecord> records;
};

int64_t TimeOf(const rpc::TaskInfoEntry& entry, rpc::TaskState state) {
  if (entry.state_time_ns_size() <= state || entry.state_time_ns(state) == 0) return -1;
  return entry.state_time_ns(state);
}

}  // namespace

TEST_CASE("submitter and executor events merge into one entry per task attempt") {
  TaskEventStore store({});
  rpc::TaskEvent submitted = Event("t1", rpc::PENDING_ARGS_AVAIL, 100);
  submitted.set_function_name("Plus");
  submitted.set_submitter_pid(11);
  rpc::TaskEvent pushed = Event("t1", rpc::SUBMITTED_TO_WORKER, 200);
  pushed.set_worker_pid(22);
  pushed.set_node_id("node");
  // The executor's batch arrives after the submitter's FINISHED, with an
  // earlier FINISHED time: the earliest time counts, FINISHED stays.
  rpc::TaskEvent finished_seen_by_caller = Event("t1", rpc::FINISHED, 500);
  REQUIRE(store.Add(Batch({submitted, pushed, finished_seen_by_caller})).ok());
  rpc::TaskEvent running = Event("t1", rpc::RUNNING, 300);
  running.set_worker_id("worker");
  REQUIRE(store.Add(Batch({running, Event("t1", rpc::FINISHED, 400)})).ok());
  // A retry is a separate attempt.
  REQUIRE(store.Add(Batch({Event("t1", rpc::RUNNING, 600, kJob1, 1)})).ok());

  rpc::GetTaskEventsReply reply = store.Get({});
  REQUIRE(reply.tasks_size() == 2);
  const rpc::TaskInfoEntry& first = reply.tasks(0);
  CHECK(first.attempt() == 0);
  CHECK(first.state() == rpc::FINISHED);
  CHECK(first.function_name() == "Plus");
  CHECK(first.submitter_pid() == 11);
  CHECK(first.worker_pid() == 22);
  CHECK(first.worker_id() == "worker");
  CHECK(first.node_id() == "node");
  CHECK(TimeOf(first, rpc::RUNNING) == 300);
  CHECK(TimeOf(first, rpc::FINISHED) == 400);
  int reached = 0;
  for (int64_t t : first.state_time_ns()) reached += t != 0;
  CHECK(reached == 4);
  CHECK(reply.tasks(1).attempt() == 1);
  CHECK(reply.tasks(1).state() == rpc::RUNNING);
  CHECK(store.NumRecords() == 6);
}

TEST_CASE("a failure keeps its error type and wins over an earlier state") {
  TaskEventStore store({});
  // One event folding two changes, as a sender batches them.
  rpc::TaskEvent failed = Event("t", rpc::FAILED, 50);
  rpc::TaskStateTime* running = failed.add_states();
  running->set_state(rpc::RUNNING);
  running->set_time_ns(20);
  failed.set_error_type("TASK_EXCEPTION");
  failed.set_error_message("boom");
  REQUIRE(store.Add(Batch({failed})).ok());
  rpc::GetTaskEventsReply reply = store.Get({});
  REQUIRE(reply.tasks_size() == 1);
  CHECK(reply.tasks(0).state() == rpc::FAILED);
  CHECK(reply.tasks(0).error_type() == "TASK_EXCEPTION");
  CHECK(reply.tasks(0).error_message() == "boom");
  CHECK(TimeOf(reply.tasks(0), rpc::RUNNING) == 20);
  CHECK(TimeOf(reply.tasks(0), rpc::FAILED) == 50);
}

TEST_CASE("each job keeps a bounded window of its most recent tasks and counts what it lost") {
  TaskEventStore store({.max_tasks_per_job = 3});
  for (int i = 0; i < 5; ++i) {
    REQUIRE(store.Add(Batch({Event("a" + std::to_string(i), rpc::FINISHED, 10 + i)})).ok());
  }
  REQUIRE(store.Add(Batch({Event("b0", rpc::FINISHED, 1, kJob2)}, /*dropped=*/7, kJob2)).ok());
  REQUIRE(store.Add(Batch({}, /*dropped=*/2, kJob2)).ok());
  CHECK(store.NumRecords() == 6);

  rpc::GetTaskEventsRequest job1;
  job1.set_job_id(kJob1);
  rpc::GetTaskEventsReply reply = store.Get(job1);
  REQUIRE(reply.tasks_size() == 3);
  CHECK(reply.tasks(0).task_id() == "a2");
  CHECK(reply.tasks(2).task_id() == "a4");
  REQUIRE(reply.drops_size() == 1);
  CHECK(reply.drops(0).evicted() == 2);
  CHECK(reply.drops(0).dropped_at_source() == 0);

  rpc::GetTaskEventsRequest job2;
  job2.set_job_id(kJob2);
  reply = store.Get(job2);
  REQUIRE(reply.drops_size() == 1);
  CHECK(reply.drops(0).dropped_at_source() == 9);
  CHECK(reply.drops(0).evicted() == 0);
}

TEST_CASE("queries filter by task and keep the most recent up to the limit") {
  TaskEventStore store({});
  for (int i = 0; i < 10; ++i) REQUIRE(store.Add(Batch({Event("t" + std::to_string(i), rpc::RUNNING, i)})).ok());
  rpc::GetTaskEventsRequest limited;
  limited.set_limit(4);
  rpc::GetTaskEventsReply reply = store.Get(limited);
  CHECK(reply.total() == 10);
  REQUIRE(reply.tasks_size() == 4);
  CHECK(reply.tasks(0).task_id() == "t6");
  CHECK(reply.tasks(3).task_id() == "t9");

  rpc::GetTaskEventsRequest one;
  one.set_task_id("t3");
  reply = store.Get(one);
  REQUIRE(reply.tasks_size() == 1);
  CHECK(reply.tasks(0).task_id() == "t3");
  one.set_task_id("missing");
  CHECK(store.Get(one).tasks_size() == 0);
}

TEST_CASE("records and their side table merge into entries when asked") {
  TaskEventStore store({});
  RecordBatch caller;
  TaskEventRecord& submitted = caller.Add("t1", rpc::PENDING_ARGS_AVAIL, 100);
  submitted.flags = TaskEventRecord::kDescribed;
  submitted.function_name = caller.Str("Plus");
  submitted.type = rpc::ACTOR_TASK;
  submitted.pid = 11;
  TaskEventRecord& pushed = caller.Add("t1", rpc::SUBMITTED_TO_WORKER, 200);
  pushed.pid = 22;
  pushed.node_id = caller.Str("node-B");
  caller.Add("other", rpc::PENDING_ARGS_AVAIL, 150, kJob2);  // Another job in the same batch.
  REQUIRE(store.Add(caller.Done()).ok());
  RecordBatch executor;
  TaskEventRecord& running = executor.Add("t1", rpc::RUNNING, 300);
  running.flags = TaskEventRecord::kExecutor;
  running.pid = 22;
  running.worker_id = executor.Str("worker-B");
  TaskEventRecord& failed = executor.Add("t1", rpc::FAILED, 400);
  failed.error_type = executor.Str("TASK_EXCEPTION");
  failed.error_message = executor.Str("boom");
  REQUIRE(store.Add(executor.Done()).ok());
  CHECK(store.NumRecords() == 5);

  rpc::GetTaskEventsRequest job1;
  job1.set_job_id(kJob1);
  rpc::GetTaskEventsReply reply = store.Get(job1);
  REQUIRE(reply.tasks_size() == 1);
  const rpc::TaskInfoEntry& t = reply.tasks(0);
  CHECK(t.task_id() == "t1");
  CHECK(t.job_id() == kJob1);
  CHECK(t.state() == rpc::FAILED);
  CHECK(t.function_name() == "Plus");
  CHECK(t.type() == rpc::ACTOR_TASK);
  CHECK(t.submitter_pid() == 11);
  CHECK(t.worker_pid() == 22);
  CHECK(t.node_id() == "node-B");
  CHECK(t.worker_id() == "worker-B");
  CHECK(t.error_type() == "TASK_EXCEPTION");
  CHECK(t.error_message() == "boom");
  CHECK(TimeOf(t, rpc::PENDING_ARGS_AVAIL) == 100);
  CHECK(TimeOf(t, rpc::RUNNING) == 300);
  CHECK(TimeOf(t, rpc::FAILED) == 400);
  rpc::GetTaskEventsRequest job2;
  job2.set_job_id(kJob2);
  reply = store.Get(job2);
  REQUIRE(reply.tasks_size() == 1);
  CHECK(reply.tasks(0).task_id() == "other");
  CHECK(store.Get({}).tasks_size() == 2);
}

TEST_CASE("an executor's one record gives the times of every state it went through") {
  TaskEventStore store({});
  RecordBatch caller;
  TaskEventRecord& submitted = caller.Add("t1", rpc::PENDING_ARGS_AVAIL, 100);
  submitted.flags = TaskEventRecord::kDescribed;
  submitted.function_name = caller.Str("Plus");
  REQUIRE(store.Add(caller.Done()).ok());
  RecordBatch executor;
  // Reported RUNNING by a flush while it ran, then its end.
  TaskEventRecord& running = executor.Add("t1", rpc::RUNNING, 300);
  running.flags = TaskEventRecord::kExecutor;
  running.received_ns = 250;
  running.running_ns = 300;
  TaskEventRecord& finished = executor.Add("t1", rpc::FINISHED, 400);
  finished.flags = TaskEventRecord::kExecutor;
  finished.received_ns = 250;
  finished.running_ns = 300;
  finished.pid = 22;
  finished.node_id = executor.Str("node-B");
  REQUIRE(store.Add(executor.Done()).ok());
  rpc::GetTaskEventsReply reply = store.Get({});
  REQUIRE(reply.tasks_size() == 1);
  const rpc::TaskInfoEntry& t = reply.tasks(0);
  CHECK(t.state() == rpc::FINISHED);
  CHECK(t.worker_pid() == 22);
  CHECK(t.node_id() == "node-B");
  CHECK(TimeOf(t, rpc::PENDING_ARGS_AVAIL) == 100);
  CHECK(TimeOf(t, rpc::SUBMITTED_TO_WORKER) == 250);
  CHECK(TimeOf(t, rpc::RUNNING) == 300);
  CHECK(TimeOf(t, rpc::FINISHED) == 400);
}

TEST_CASE("the window is counted in records: old batches are evicted whole and their tasks counted") {
  TaskEventStore store({.max_tasks_per_job = 2});  // 12 records.
  for (int b = 0; b < 4; ++b) {
    RecordBatch batch;
    for (int i = 0; i < 5; ++i) batch.Add("t" + std::to_string(b * 5 + i), rpc::PENDING_ARGS_AVAIL, 1 + b * 5 + i);
    REQUIRE(store.Add(batch.Done()).ok());
  }
  CHECK(store.NumRecords() == 10);  // Two batches evicted.
  rpc::GetTaskEventsReply reply = store.Get({});
  REQUIRE(reply.tasks_size() == 2);  // At most max_tasks_per_job shown.
  CHECK(reply.tasks(0).task_id() == "t18");
  CHECK(reply.tasks(1).task_id() == "t19");
  REQUIRE(reply.drops_size() == 1);
  CHECK(reply.drops(0).evicted() == 18);  // Every task not shown is counted.
}

TEST_CASE("records of another layout or a torn batch are refused with a clear error") {
  TaskEventStore store({});
  RecordBatch batch;
  batch.Add("t", rpc::RUNNING, 1);
  rpc::AddTaskEventDataRequest wrong_size = batch.Done();
  wrong_size.set_record_size(64);
  absl::Status st = store.Add(wrong_size);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(st.message()), Catch::Contains("records of 64 bytes"));
  rpc::AddTaskEventDataRequest torn = batch.Done();
  torn.mutable_records()->pop_back();
  st = store.Add(torn);
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK_THAT(std::string(st.message()), Catch::Contains("not a whole number of records"));
  CHECK(store.NumRecords() == 0);
  CHECK(store.Get({}).tasks_size() == 0);
}

TEST_CASE("a query merges only what came since the last one, with the same answer") {
  TaskEventStore polled({.max_tasks_per_job = 4});
  TaskEventStore once({.max_tasks_per_job = 4});
  for (int b = 0; b < 6; ++b) {
    RecordBatch batch;
    for (int i = 0; i < 3; ++i) {
      const std::string task = "t" + std::to_string(b * 3 + i);
      batch.Add(task, rpc::PENDING_ARGS_AVAIL, 1 + b * 3 + i);
      if (b > 0) batch.Add("t" + std::to_string((b - 1) * 3 + i), rpc::FINISHED, 100 + b);  // The previous batch's.
    }
    REQUIRE(polled.Add(batch.Done()).ok());
    REQUIRE(once.Add(batch.Done()).ok());
    CHECK(polled.Get({}).tasks_size() <= 4);  // A poll between batches.
  }
  rpc::GetTaskEventsReply a = polled.Get({});
  rpc::GetTaskEventsReply b = once.Get({});
  REQUIRE(a.tasks_size() == 4);
  REQUIRE(b.tasks_size() == 4);
  for (int i = 0; i < 4; ++i) {
    CHECK(a.tasks(i).task_id() == b.tasks(i).task_id());
    CHECK(a.tasks(i).state() == b.tasks(i).state());
  }
  CHECK(a.tasks(0).task_id() == "t14");
  CHECK(a.tasks(0).state() == rpc::FINISHED);
  CHECK(a.tasks(3).state() == rpc::PENDING_ARGS_AVAIL);
  CHECK(a.drops(0).evicted() == 14);  // Every task not shown, once.
  // Unpolled, two batches were evicted unmerged: their 6 submissions count,
  // and so do the partial entries their tasks' later records made (3 of
  // them counted twice: the documented approximation).
  CHECK(b.drops(0).evicted() == 17);
}

TEST_CASE("compact records, as workers send them, merge like the expanded ones") {
  TaskEventStore store({});
  rpc::AddTaskEventDataRequest request;
  request.set_record_size(sizeof(CompactTaskEventRecord));
  for (const char* s : {"", "\x01\x00\x00\x00", "Plus", "node-B", "worker-B", "0123456789abcdef", "TASK_EXCEPTION",
                        "boom"}) {
    request.add_strings(std::string(s, s[0] == '\x01' ? 4 : std::strlen(s)));
  }
  request.set_self_node(3);
  request.set_self_worker(4);
  std::vector<CompactTaskEventRecord> records(3);
  // The caller's submission of a 24-byte task id (8 inline, 16 in the table).
  const std::string task = std::string("ABCDEFGH") + "0123456789abcdef";
  CompactTaskEventRecord& submitted = records[0];
  submitted.time_ns = 1'000'000'000;
  std::memcpy(&submitted.task_lo, task.data(), 8);
  submitted.task_rest = 5;
  submitted.flags = CompactTaskEventRecord::kSplitTaskId | TaskEventRecord::kDescribed;
  submitted.state = rpc::PENDING_ARGS_AVAIL;
  submitted.job = 1;
  submitted.s[0] = 2;  // Function.
  submitted.pid = 11;
  // The executor's RUNNING record: its node and worker are the sender's.
  CompactTaskEventRecord& running = records[1];
  running = submitted;
  running.flags |= TaskEventRecord::kExecutor;
  running.state = rpc::RUNNING;
  running.time_ns = 1'000'300'000;
  running.received_us = 101;  // 100 µs before.
  running.running_us = 1;     // At time_ns.
  running.pid = 22;
  // The caller's end, FAILED, with the error.
  CompactTaskEventRecord& failed = records[2];
  failed.time_ns = 1'000'900'000;
  failed.task_lo = submitted.task_lo;
  failed.task_rest = 5;
  failed.flags = CompactTaskEventRecord::kSplitTaskId;
  failed.state = rpc::FAILED;
  failed.job = 1;
  failed.s[0] = 3;
  failed.s[1] = 4;
  failed.s[2] = 6;
  failed.s[3] = 7;
  failed.pid = 22;
  request.set_records(reinterpret_cast<const char*>(records.data()), records.size() * sizeof(records[0]));
  REQUIRE(store.Add(request).ok());
  CHECK(store.NumRecords() == 3);
  rpc::GetTaskEventsReply reply = store.Get({});
  REQUIRE(reply.tasks_size() == 1);
  const rpc::TaskInfoEntry& e = reply.tasks(0);
  CHECK(e.task_id() == task);
  CHECK(e.job_id() == kJob1);
  CHECK(e.state() == rpc::FAILED);
  CHECK(e.function_name() == "Plus");
  CHECK(e.submitter_pid() == 11);
  CHECK(e.worker_pid() == 22);
  CHECK(e.node_id() == "node-B");
  CHECK(e.worker_id() == "worker-B");
  CHECK(e.error_type() == "TASK_EXCEPTION");
  CHECK(e.error_message() == "boom");
  CHECK(TimeOf(e, rpc::PENDING_ARGS_AVAIL) == 1'000'000'000);
  CHECK(TimeOf(e, rpc::SUBMITTED_TO_WORKER) == 1'000'200'000);
  CHECK(TimeOf(e, rpc::RUNNING) == 1'000'300'000);
  CHECK(TimeOf(e, rpc::FAILED) == 1'000'900'000);
}

TEST_CASE("a compact record whose indices point past its table reads as empty fields") {
  TaskEventStore store({});
  rpc::AddTaskEventDataRequest request;
  request.set_record_size(sizeof(CompactTaskEventRecord));
  request.add_strings("");
  request.add_strings(kJob1);
  request.set_self_node(900);
  CompactTaskEventRecord r;
  r.time_ns = 5;
  r.task_rest = 60000;  // A split id whose tail is not in the table.
  r.flags = CompactTaskEventRecord::kSplitTaskId | TaskEventRecord::kExecutor | TaskEventRecord::kDescribed;
  r.state = rpc::RUNNING;
  r.job = 1;
  r.s[0] = 700;
  CompactTaskEventRecord short_id;
  short_id.flags = CompactTaskEventRecord::kShortTaskId;
  short_id.task_lo = 7;
  short_id.task_rest = 200;  // Longer than the 8 inline bytes.
  short_id.state = rpc::FINISHED;
  short_id.job = 1;
  std::string bytes(reinterpret_cast<const char*>(&r), sizeof(r));
  bytes.append(reinterpret_cast<const char*>(&short_id), sizeof(short_id));
  request.set_records(bytes);
  REQUIRE(store.Add(request).ok());
  rpc::GetTaskEventsReply reply = store.Get({});
  REQUIRE(reply.tasks_size() == 2);
  CHECK(reply.tasks(0).task_id().size() == 8);  // The inline bytes only.
  CHECK(reply.tasks(0).function_name().empty());
  CHECK(reply.tasks(0).node_id().empty());
  CHECK(reply.tasks(1).task_id().size() == 8);
  CHECK(reply.tasks(1).state() == rpc::FINISHED);
}
