#include "gcs/task_event_store.h"

#include <catch2/catch.hpp>

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
  store.Add(Batch({submitted, pushed, finished_seen_by_caller}));
  rpc::TaskEvent running = Event("t1", rpc::RUNNING, 300);
  running.set_worker_id("worker");
  store.Add(Batch({running, Event("t1", rpc::FINISHED, 400)}));
  // A retry is a separate attempt.
  store.Add(Batch({Event("t1", rpc::RUNNING, 600, kJob1, 1)}));

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
  CHECK(store.NumTasks() == 2);
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
  store.Add(Batch({failed}));
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
    store.Add(Batch({Event("a" + std::to_string(i), rpc::FINISHED, 10 + i)}));
  }
  store.Add(Batch({Event("b0", rpc::FINISHED, 1, kJob2)}, /*dropped=*/7, kJob2));
  store.Add(Batch({}, /*dropped=*/2, kJob2));
  CHECK(store.NumTasks() == 4);

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
  for (int i = 0; i < 10; ++i) store.Add(Batch({Event("t" + std::to_string(i), rpc::RUNNING, i)}));
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
