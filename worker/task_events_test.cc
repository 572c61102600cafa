#include "worker/task_events.h"

#include <unistd.h>

#include <catch2/catch.hpp>

using namespace lumen;
using namespace lumen::worker;

namespace {

struct Sink {
  std::vector<rpc::AddTaskEventDataRequest> batches;
  bool fail = false;
  TaskEventRecorder::Sender sender() {
    return [this](const rpc::AddTaskEventDataRequest& r) {
      if (fail) return absl::UnavailableError("down");
      batches.push_back(r);
      return absl::OkStatus();
    };
  }
  size_t NumEvents() const {
    size_t n = 0;
    for (const auto& b : batches) {
      for (const auto& e : b.events()) n += e.states_size();
    }
    return n;
  }
};

rpc::TaskSpec Spec(const std::string& id) {
  rpc::TaskSpec spec;
  spec.set_task_id(id);
  spec.set_job_id("job1");
  spec.set_function_name("Plus");
  spec.set_attempt(2);
  return spec;
}

}  // namespace

TEST_CASE("events of both sides carry what each side knows") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  recorder.SetProcess("job1", "node-A", "worker-A");
  rpc::TaskSpec spec = Spec("t1");
  rpc::Address worker;
  worker.set_node_id("node-B");
  worker.set_worker_id("worker-B");
  recorder.Submitted(spec);
  recorder.Pushed(spec, &worker, 77);
  recorder.Running(spec);
  rpc::ErrorInfo error;
  error.set_type(rpc::ErrorInfo::TASK_EXCEPTION);
  error.set_message("boom");
  recorder.Executed(spec, error);
  recorder.Stop();

  REQUIRE(sink.batches.size() == 1);
  // Folded: one event per side of the task attempt.
  const auto& events = sink.batches[0].events();
  REQUIRE(events.size() == 2);
  const rpc::TaskEvent& caller = events[0];
  REQUIRE(caller.states_size() == 2);
  CHECK(caller.states(0).state() == rpc::PENDING_ARGS_AVAIL);
  CHECK(caller.states(1).state() == rpc::SUBMITTED_TO_WORKER);
  CHECK(caller.function_name() == "Plus");
  CHECK(caller.submitter_pid() == ::getpid());
  CHECK(caller.attempt() == 2);
  CHECK(caller.worker_pid() == 77);
  CHECK(caller.node_id() == "node-B");
  const rpc::TaskEvent& executor = events[1];
  REQUIRE(executor.states_size() == 2);
  CHECK(executor.states(0).state() == rpc::RUNNING);
  CHECK(executor.states(1).state() == rpc::FAILED);
  CHECK(executor.worker_id() == "worker-A");
  CHECK(executor.worker_pid() == ::getpid());
  CHECK(executor.error_type() == "TASK_EXCEPTION");
  CHECK(executor.error_message() == "boom");
  CHECK(caller.states(0).time_ns() <= executor.states(1).time_ns());
}

TEST_CASE("a full buffer drops and counts events without blocking; the count is sent") {
  Sink sink;
  TaskEventOptions options;
  options.buffer_size = 3;
  TaskEventRecorder recorder(options, sink.sender());
  rpc::TaskSpec spec = Spec("t");
  for (int i = 0; i < 10; ++i) recorder.Submitted(spec);  // Not started: nothing flushes.
  CHECK(recorder.dropped_total() == 7);
  recorder.Stop();
  REQUIRE(sink.batches.size() == 1);
  REQUIRE(sink.batches[0].events_size() == 1);  // Folded: one task.
  CHECK(sink.batches[0].events(0).states_size() == 3);
  CHECK(sink.batches[0].dropped() == 7);
}

TEST_CASE("a large batch travels in messages of a bounded number of task events") {
  Sink sink;
  TaskEventOptions options;
  options.buffer_size = 9000;
  TaskEventRecorder recorder(options, sink.sender());
  for (int i = 0; i < 9000; ++i) recorder.Submitted(Spec("t" + std::to_string(i)));
  for (int i = 0; i < 3; ++i) recorder.Submitted(Spec("x"));  // Dropped: the buffer is full.
  recorder.Stop();
  REQUIRE(sink.batches.size() == 3);
  CHECK(sink.batches[0].events_size() == 4096);
  CHECK(sink.batches[2].events_size() == 9000 - 2 * 4096);
  CHECK(sink.batches[0].dropped() == 3);
  CHECK(sink.batches[1].dropped() == 0);
  CHECK(sink.NumEvents() == 9000);
}

TEST_CASE("a batch the GCS refuses is counted as dropped in the next one") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  sink.fail = true;
  recorder.Submitted(Spec("a"));
  recorder.Submitted(Spec("b"));
  recorder.Stop();  // Refused.
  CHECK(recorder.dropped_total() == 2);
}

TEST_CASE("the flusher sends while the process runs, and slots are reused") {
  Sink sink;
  TaskEventOptions options;
  options.buffer_size = 1000;
  options.flush_interval_ms = 10;
  TaskEventRecorder recorder(options, sink.sender());
  recorder.Start();
  for (int i = 0; i < 200; ++i) recorder.Submitted(Spec("t" + std::to_string(i)));
  // Wait (bounded) for the flusher; no timing is asserted.
  for (int i = 0; i < 500 && recorder.batches_sent() == 0; ++i) usleep(10'000);
  CHECK(recorder.batches_sent() >= 1);
  for (int i = 0; i < 200; ++i) recorder.Running(Spec("u" + std::to_string(i)));
  recorder.Stop();
  CHECK(sink.NumEvents() == 400);
  CHECK(recorder.dropped_total() == 0);
}

TEST_CASE("disabled, nothing is recorded or sent") {
  Sink sink;
  TaskEventOptions options;
  options.enabled = false;
  TaskEventRecorder recorder(options, sink.sender());
  recorder.Start();
  recorder.Submitted(Spec("t"));
  recorder.Stop();
  CHECK(sink.batches.empty());
}
