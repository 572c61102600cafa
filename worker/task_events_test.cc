#include "worker/task_events.h"

#include <unistd.h>

#include <cstring>

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
    for (const auto& b : batches) n += Records(b).size();
    return n;
  }
  static std::vector<TaskEventRecord> Records(const rpc::AddTaskEventDataRequest& b) {
    REQUIRE(b.record_size() == static_cast<int32_t>(sizeof(TaskEventRecord)));
    REQUIRE(b.records().size() % sizeof(TaskEventRecord) == 0);
    std::vector<TaskEventRecord> out(b.records().size() / sizeof(TaskEventRecord));
    std::memcpy(out.data(), b.records().data(), b.records().size());
    return out;
  }
};

std::string Str(const rpc::AddTaskEventDataRequest& b, uint32_t index) {
  REQUIRE(index < static_cast<uint32_t>(b.strings_size()));
  return b.strings(static_cast<int>(index));
}

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
  const auto& batch = sink.batches[0];
  // One fixed-size record per change, strings through the side table.
  const auto records = Sink::Records(batch);
  REQUIRE(records.size() == 4);
  CHECK(batch.strings(0).empty());
  const TaskEventRecord& submitted = records[0];
  CHECK(submitted.state == rpc::PENDING_ARGS_AVAIL);
  CHECK(submitted.TaskId(batch.strings()) == "t1");
  CHECK((submitted.flags & TaskEventRecord::kDescribed));
  CHECK_FALSE((submitted.flags & TaskEventRecord::kExecutor));
  CHECK(Str(batch, submitted.function_name) == "Plus");
  CHECK(Str(batch, submitted.job) == "job1");
  CHECK(submitted.pid == ::getpid());
  CHECK(submitted.attempt == 2);
  const TaskEventRecord& pushed = records[1];
  CHECK(pushed.state == rpc::SUBMITTED_TO_WORKER);
  CHECK(pushed.pid == 77);
  CHECK(Str(batch, pushed.node_id) == "node-B");
  CHECK(Str(batch, pushed.worker_id) == "worker-B");
  CHECK_FALSE((pushed.flags & TaskEventRecord::kDescribed));
  const TaskEventRecord& running = records[2];
  CHECK(running.state == rpc::RUNNING);
  CHECK((running.flags & TaskEventRecord::kExecutor));
  CHECK(Str(batch, running.worker_id) == "worker-A");
  CHECK(Str(batch, running.node_id) == "node-A");
  CHECK(running.pid == ::getpid());
  const TaskEventRecord& failed = records[3];
  CHECK(failed.state == rpc::FAILED);
  CHECK(Str(batch, failed.error_type) == "TASK_EXCEPTION");
  CHECK(Str(batch, failed.error_message) == "boom");
  CHECK(submitted.time_ns <= failed.time_ns);
  CHECK(submitted.time_ns > 0);
}

TEST_CASE("repeated strings travel once per batch; a long task id goes through the table") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  recorder.SetProcess("job1", "node-A", "worker-A");
  for (int i = 0; i < 1000; ++i) {
    rpc::TaskSpec spec = Spec("t" + std::to_string(i));
    spec.set_parent_task_id("driver-task");
    recorder.Submitted(spec);
    recorder.Running(spec);
  }
  const std::string long_id(40, 'x');
  recorder.Submitted(Spec(long_id));
  recorder.Stop();
  REQUIRE(sink.batches.size() == 1);
  const auto& batch = sink.batches[0];
  const auto records = Sink::Records(batch);
  REQUIRE(records.size() == 2001);
  // "", job1, Plus, driver-task, node-A, worker-A, the long id.
  CHECK(batch.strings_size() == 7);
  CHECK(records[1998].TaskId(batch.strings()) == "t999");
  CHECK(Str(batch, records[1998].parent_task_id) == "driver-task");
  CHECK(records[2000].TaskId(batch.strings()) == long_id);
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
  CHECK(Sink::Records(sink.batches[0]).size() == 3);
  CHECK(sink.batches[0].dropped() == 7);
}

TEST_CASE("a large batch travels in messages of a bounded number of records") {
  Sink sink;
  TaskEventOptions options;
  options.buffer_size = 40000;
  TaskEventRecorder recorder(options, sink.sender());
  rpc::TaskSpec spec = Spec("t");
  for (int i = 0; i < 40000; ++i) {
    spec.set_task_id("t" + std::to_string(i));
    recorder.Submitted(spec);
  }
  for (int i = 0; i < 3; ++i) recorder.Submitted(Spec("x"));  // Dropped: the buffer is full.
  recorder.Stop();
  REQUIRE(sink.batches.size() == 2);
  CHECK(Sink::Records(sink.batches[0]).size() == 32768);
  CHECK(Sink::Records(sink.batches[1]).size() == 40000 - 32768);
  CHECK(Str(sink.batches[1], Sink::Records(sink.batches[1])[0].function_name) == "Plus");
  CHECK(sink.batches[0].dropped() == 3);
  CHECK(sink.batches[1].dropped() == 0);
  CHECK(sink.NumEvents() == 40000);
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

TEST_CASE("a buffer that filled takes records again once the flusher swapped it; every drop is counted") {
  Sink sink;
  TaskEventOptions options;
  options.buffer_size = 4;
  options.flush_interval_ms = 10;
  TaskEventRecorder recorder(options, sink.sender());
  for (int i = 0; i < 10; ++i) recorder.Submitted(Spec("a" + std::to_string(i)));  // 6 dropped.
  recorder.Start();
  // Wait (bounded) for the flusher to send the full buffer; no timing is asserted.
  for (int i = 0; i < 500 && recorder.batches_sent() == 0; ++i) usleep(10'000);
  REQUIRE(recorder.batches_sent() >= 1);
  for (int i = 0; i < 3; ++i) recorder.Running(Spec("b" + std::to_string(i)));
  recorder.Stop();
  CHECK(sink.NumEvents() == 7);
  CHECK(recorder.dropped_total() == 6);
  int64_t dropped_sent = 0;
  for (const auto& batch : sink.batches) dropped_sent += batch.dropped();
  CHECK(dropped_sent == 6);
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
