#include "worker/task_events.h"

#include <unistd.h>

#include <cstring>
#include <thread>

#include <catch2/catch.hpp>

#include "common/id.h"

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
  // The batch's records as the GCS reads them: compact on the wire,
  // expanded here.
  static std::vector<TaskEventRecord> Records(const rpc::AddTaskEventDataRequest& b) {
    REQUIRE(b.record_size() == static_cast<int32_t>(sizeof(CompactTaskEventRecord)));
    REQUIRE(b.records().size() % sizeof(CompactTaskEventRecord) == 0);
    std::vector<CompactTaskEventRecord> compact(b.records().size() / sizeof(CompactTaskEventRecord));
    std::memcpy(compact.data(), b.records().data(), b.records().size());
    std::vector<TaskEventRecord> out;
    for (const CompactTaskEventRecord& c : compact) {
      out.push_back(ExpandTaskEventRecord(c, b.strings(), b.self_node(), b.self_worker()));
    }
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

// The caller's record of `spec`'s end, as a worker on node-B replied.
void Ran(TaskEventRecorder& caller, const rpc::TaskSpec& spec) {
  rpc::PushTasksReply batch;
  batch.set_worker_pid(77);
  batch.set_node_id("node-B");
  batch.set_worker_id("worker-B");
  rpc::PushTaskReply reply;
  reply.set_received_ns(900);
  reply.set_running_ns(1000);
  reply.set_exec_micros(1);
  reply.set_attempt(spec.attempt());  // Echoed, as TaskExecutor does.
  caller.Replied(spec, reply, batch);
}

// Submits `records` tasks (each with a name of its own when `named`),
// pausing 10 ms after each `per_pause`, to a recorder that sends only when
// its flusher is woken (and at Stop); returns how many were dropped, and
// checks that every other record was sent.
int64_t Burst(Sink& sink, size_t buffer_size, int records, int per_pause, bool named) {
  TaskEventOptions options;
  options.buffer_size = buffer_size;
  options.flush_interval_ms = 60'000;  // Only a half-full buffer (or Stop) sends.
  TaskEventRecorder recorder(options, sink.sender());
  recorder.SetProcess("job1", "node-A", "worker-A");
  recorder.Start();
  for (int i = 0; i < records; ++i) {
    rpc::TaskSpec spec = Spec("t" + std::to_string(i));
    if (named) spec.set_name("name-" + std::to_string(i));
    recorder.Submitted(spec);
    if (i % per_pause == per_pause - 1) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  const int64_t dropped = recorder.dropped_total();
  recorder.Stop();
  INFO("dropped " << dropped << ", sent " << sink.NumEvents() << " in " << sink.batches.size() << " messages");
  CHECK(static_cast<int64_t>(sink.NumEvents()) + dropped == records);
  return dropped;
}

}  // namespace

TEST_CASE("a task's end is the caller's record, with what the worker's reply says") {
  Sink caller_sink, worker_sink;
  TaskEventRecorder caller({}, caller_sink.sender());
  caller.SetProcess("job1", "node-A", "worker-A");
  TaskEventRecorder worker({}, worker_sink.sender());
  worker.SetProcess("job1", "node-B", "worker-B");
  rpc::TaskSpec spec = Spec("t1");
  caller.Submitted(spec);
  // The worker runs it and answers; it records nothing itself.
  rpc::PushTasksReply batch;
  worker.StampExecutor(&batch);
  const int64_t received = TaskEventRecorder::NowNs();
  worker.Running(spec, received);
  rpc::PushTaskReply reply;
  reply.set_received_ns(received);
  reply.set_running_ns(worker.Executed(spec));
  reply.set_exec_micros(7);
  reply.mutable_error()->set_type(rpc::ErrorInfo::TASK_EXCEPTION);
  reply.mutable_error()->set_message("boom");
  caller.Replied(spec, reply, batch);
  caller.Stop();
  worker.Stop();
  CHECK(worker_sink.batches.empty());

  REQUIRE(caller_sink.batches.size() == 1);
  const auto& sent = caller_sink.batches[0];
  // One fixed-size record per change, strings through the side table.
  const auto records = Sink::Records(sent);
  REQUIRE(records.size() == 2);
  CHECK(sent.strings(0).empty());
  const TaskEventRecord& submitted = records[0];
  CHECK(submitted.state == rpc::PENDING_ARGS_AVAIL);
  CHECK(submitted.TaskId(sent.strings()) == "t1");
  CHECK((submitted.flags & TaskEventRecord::kDescribed));
  CHECK_FALSE((submitted.flags & TaskEventRecord::kExecutor));
  CHECK(Str(sent, submitted.function_name) == "Plus");
  CHECK(Str(sent, submitted.job) == "job1");
  CHECK(submitted.pid == ::getpid());
  CHECK(submitted.attempt == 2);
  CHECK(submitted.received_ns == 0);
  CHECK(submitted.running_ns == 0);
  // Its end: the worker's identity and times, from the reply.
  const TaskEventRecord& ended = records[1];
  CHECK(ended.state == rpc::FAILED);
  CHECK_FALSE((ended.flags & TaskEventRecord::kExecutor));
  CHECK(Str(sent, ended.node_id) == "node-B");
  CHECK(Str(sent, ended.worker_id) == "worker-B");
  CHECK(ended.pid == ::getpid());  // The worker's (the same process here).
  // Carried as µs before the end: exact to the µs.
  CHECK(ended.received_ns >= received);
  CHECK(ended.received_ns - received < 1000);
  CHECK(ended.running_ns >= received);
  CHECK(ended.time_ns == ended.running_ns + 7000);
  CHECK(Str(sent, ended.error_type) == "TASK_EXCEPTION");
  CHECK(Str(sent, ended.error_message) == "boom");
  CHECK(submitted.time_ns > 0);
}

TEST_CASE("a task that ends without a reply is the caller's FAILED record; a success is FINISHED") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  rpc::TaskSpec lost = Spec("lost");
  rpc::ErrorInfo died;
  died.set_type(rpc::ErrorInfo::WORKER_DIED);
  died.set_message("gone");
  recorder.Ended(lost, died);
  rpc::TaskSpec fine = Spec("fine");
  recorder.Replied(fine, rpc::PushTaskReply(), rpc::PushTasksReply());
  recorder.Stop();
  REQUIRE(sink.batches.size() == 1);
  const auto& sent = sink.batches[0];
  const auto records = Sink::Records(sent);
  REQUIRE(records.size() == 2);
  CHECK(records[0].state == rpc::FAILED);
  CHECK(Str(sent, records[0].error_type) == "WORKER_DIED");
  CHECK(records[0].node_id == 0);
  CHECK(records[1].state == rpc::FINISHED);
  CHECK(records[1].error_type == 0);
  CHECK(records[1].running_ns == 0);  // Not in the reply: not carried.
  CHECK(records[1].time_ns > 0);      // Then the caller's clock.
}

TEST_CASE("a task still running when the flusher flushes is reported RUNNING by its worker") {
  Sink sink;
  TaskEventOptions options;
  options.flush_interval_ms = 10;
  options.running_after_ms = 0;
  TaskEventRecorder recorder(options, sink.sender());
  recorder.SetProcess("job1", "node-A", "worker-A");
  rpc::TaskSpec spec = Spec("long");
  recorder.Start();
  const int64_t received = TaskEventRecorder::NowNs() - 5'000'000;  // 5 ms ago.
  recorder.Running(spec, received);
  // Wait (bounded) for the flusher: nothing but the running task to send.
  for (int i = 0; i < 500 && recorder.batches_sent() == 0; ++i) usleep(10'000);
  REQUIRE(recorder.batches_sent() >= 1);
  REQUIRE(sink.batches.size() >= 1);
  const auto first = Sink::Records(sink.batches[0]);
  REQUIRE(first.size() == 1);
  CHECK(first[0].state == rpc::RUNNING);
  CHECK((first[0].flags & TaskEventRecord::kExecutor));
  CHECK((first[0].flags & TaskEventRecord::kDescribed));
  CHECK(Str(sink.batches[0], first[0].function_name) == "Plus");
  CHECK(first[0].received_ns >= received);  // To the µs.
  CHECK(first[0].received_ns - received < 1000);
  CHECK(first[0].running_ns == first[0].time_ns);
  CHECK(first[0].pid == ::getpid());
  CHECK(Str(sink.batches[0], first[0].worker_id) == "worker-A");
  CHECK(Str(sink.batches[0], first[0].node_id) == "node-A");
  CHECK(recorder.Executed(spec) == first[0].running_ns);
  recorder.Stop();
  size_t records = 0;
  for (const auto& batch : sink.batches) records += Sink::Records(batch).size();
  CHECK(records == 1);  // Reported once, not at every flush; the end is the caller's.
}

TEST_CASE("a running task is reported only once it has run running_after_ms, or at Stop") {
  Sink sink;
  TaskEventOptions options;
  options.flush_interval_ms = 10;
  options.running_after_ms = 600'000;  // Longer than this test.
  TaskEventRecorder recorder(options, sink.sender());
  recorder.SetProcess("job1", "node-A", "worker-A");
  rpc::TaskSpec running = Spec("running");
  recorder.Start();
  recorder.Running(running, 0);
  recorder.Submitted(Spec("other"));  // Something else to flush.
  for (int i = 0; i < 500 && recorder.batches_sent() == 0; ++i) usleep(10'000);
  REQUIRE(recorder.batches_sent() >= 1);
  for (const auto& batch : sink.batches) {
    for (const TaskEventRecord& r : Sink::Records(batch)) CHECK(r.state == rpc::PENDING_ARGS_AVAIL);
  }
  recorder.Stop();  // The last flush reports it whatever its age.
  const auto last = Sink::Records(sink.batches.back());
  REQUIRE(last.size() == 1);
  CHECK(last[0].state == rpc::RUNNING);
  CHECK(last[0].TaskId(sink.batches.back().strings()) == "running");
  CHECK(recorder.Executed(running) > 0);
}

TEST_CASE("a task that ran between two flushes costs its worker no record") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  rpc::TaskSpec spec = Spec("quick");
  recorder.Running(spec, 1);
  CHECK(recorder.Executed(spec) > 0);
  recorder.Stop();
  CHECK(sink.batches.empty());
}

TEST_CASE("repeated strings travel once per batch; a long task id goes through the table") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  recorder.SetProcess("job1", "node-A", "worker-A");
  for (int i = 0; i < 1000; ++i) {
    rpc::TaskSpec spec = Spec("t" + std::to_string(i));
    spec.set_parent_task_id("driver-task");
    recorder.Submitted(spec);
    Ran(recorder, spec);
  }
  const std::string long_id(40, 'x');
  recorder.Submitted(Spec(long_id));
  recorder.Stop();
  REQUIRE(sink.batches.size() == 1);
  const auto& batch = sink.batches[0];
  const auto records = Sink::Records(batch);
  REQUIRE(records.size() == 2001);
  // "", job1, Plus, driver-task, node-B, worker-B, the long id.
  CHECK(batch.strings_size() == 7);
  CHECK(records[1998].TaskId(batch.strings()) == "t999");
  CHECK(Str(batch, records[1998].parent_task_id) == "driver-task");
  CHECK(records[2000].TaskId(batch.strings()) == long_id);
}

TEST_CASE("24-byte task ids travel exactly; their shared 16-byte tail once per batch") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  const JobId job = JobId::FromInt(7);
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(TaskId::ForNormalTask(job).Binary());
    REQUIRE(ids.back().size() == 24);
    rpc::TaskSpec spec = Spec(ids.back());
    spec.set_attempt(i == 2 ? 70000 : i);  // Past 16 bits: kept as 65,535.
    recorder.Submitted(spec);
  }
  recorder.Stop();
  REQUIRE(sink.batches.size() == 1);
  const auto records = Sink::Records(sink.batches[0]);
  REQUIRE(records.size() == 3);
  for (int i = 0; i < 3; ++i) CHECK(records[i].TaskId(sink.batches[0].strings()) == ids[i]);
  CHECK(records[1].attempt == 1);
  CHECK(records[2].attempt == 65535);
  // "", job1, Plus, and the ids' common tail.
  CHECK(sink.batches[0].strings_size() == 4);
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
  for (int i = 0; i < 200; ++i) Ran(recorder, Spec("u" + std::to_string(i)));
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
  for (int i = 0; i < 3; ++i) Ran(recorder, Spec("b" + std::to_string(i)));
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

TEST_CASE("each recording thread has its own buffer; a thread's records outlive it, its buffer does not") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  std::thread submitter([&] {
    for (int i = 0; i < 100; ++i) recorder.Submitted(Spec("a" + std::to_string(i)));
  });
  std::thread replies([&] {
    for (int i = 0; i < 100; ++i) Ran(recorder, Spec("b" + std::to_string(i)));
  });
  submitter.join();
  replies.join();
  CHECK(recorder.thread_buffers() == 2);
  recorder.Stop();  // Sends both; both threads are gone, so are their buffers.
  CHECK(sink.NumEvents() == 200);
  CHECK(sink.batches.size() == 2);  // One message per thread's buffer.
  CHECK(recorder.thread_buffers() == 0);
  CHECK(recorder.dropped_total() == 0);
}

TEST_CASE("a full buffer of one thread does not drop another thread's records") {
  Sink sink;
  TaskEventOptions options;
  options.buffer_size = 5;
  TaskEventRecorder recorder(options, sink.sender());
  for (int i = 0; i < 8; ++i) recorder.Submitted(Spec("main" + std::to_string(i)));  // 3 dropped.
  std::thread other([&] {
    for (int i = 0; i < 4; ++i) recorder.Submitted(Spec("other" + std::to_string(i)));
  });
  other.join();
  CHECK(recorder.dropped_total() == 3);
  recorder.Stop();
  CHECK(sink.NumEvents() == 9);
  int64_t dropped_sent = 0;
  for (const auto& batch : sink.batches) dropped_sent += batch.dropped();
  CHECK(dropped_sent == 3);
}

TEST_CASE("recording paused for a benchmark records nothing until resumed; FlushNow sends at once") {
  Sink sink;
  TaskEventOptions options;
  options.flush_interval_ms = 60'000;  // Only FlushNow and Stop send.
  TaskEventRecorder recorder(options, sink.sender());
  recorder.SetProcess("job1", "node-A", "worker-A");
  recorder.Start();
  recorder.Submitted(Spec("t1"));
  recorder.SetRecording(false);
  CHECK_FALSE(recorder.enabled());
  recorder.Submitted(Spec("t2"));
  Ran(recorder, Spec("t2"));
  recorder.SetRecording(true);
  Ran(recorder, Spec("t1"));
  recorder.FlushNow();
  REQUIRE(sink.NumEvents() == 2);  // t1's two records; nothing of t2.
  for (const auto& r : Sink::Records(sink.batches[0])) {
    CHECK(std::string(r.TaskId(sink.batches[0].strings())) == "t1");
  }
  recorder.Stop();

  // Disabled at start: resuming does not turn it on.
  Sink off_sink;
  TaskEventOptions off;
  off.enabled = false;
  TaskEventRecorder disabled(off, off_sink.sender());
  disabled.SetRecording(true);
  CHECK_FALSE(disabled.enabled());
  disabled.Submitted(Spec("t3"));
  disabled.FlushNow();
  disabled.Stop();
  CHECK(off_sink.batches.empty());
}

TEST_CASE("a burst faster than the flusher's tick is sent, not dropped: a half-full buffer wakes the flusher") {
  Sink sink;
  // 10,000 records in about 400 ms, 250 at a time: 10 buffers' worth,
  // where the 100 ms tick alone lets at most one buffer through per tick.
  constexpr int kRecords = 10'000;
  const int64_t dropped = Burst(sink, /*buffer_size=*/1000, kRecords, /*per_pause=*/250, /*named=*/false);
  CHECK(dropped <= kRecords / 10);  // Waiting for ticks dropped about 60%.
}

TEST_CASE("ids that differ in any one byte, of any length up to 40, are interned apart") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  recorder.SetProcess("job1", "node-A", "worker-A");
  // Node ids of lengths 1..40, each followed by a copy differing in one
  // byte (first, middle or last): every record keeps its own id.
  std::vector<std::string> expected;
  for (size_t len = 1; len <= 40; ++len) {
    for (size_t at : {size_t{0}, len / 2, len - 1}) {
      std::string base(len, 'n');
      std::string other = base;
      other[at] = 'm';
      for (const std::string& node : {base, other, base}) {
        rpc::PushTasksReply batch;
        batch.set_node_id(node);
        batch.set_worker_id("w");
        rpc::PushTaskReply reply;
        recorder.Replied(Spec("t"), reply, batch);
        expected.push_back(node);
      }
    }
  }
  recorder.Stop();
  std::vector<std::string> got;
  for (const auto& b : sink.batches) {
    for (const auto& r : Sink::Records(b)) got.push_back(Str(b, r.node_id));
  }
  CHECK(got == expected);
}

TEST_CASE("a task's end is recorded from its reply: task id from its return's id, attempt echoed, the caller's job") {
  Sink sink;
  TaskEventRecorder recorder({}, sink.sender());
  recorder.SetProcess("job1", "node-A", "worker-A");
  const TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
  rpc::TaskSpec spec = Spec(task.Binary());
  // Told apart from the reply's: the record must not read them off the spec.
  spec.set_attempt(0);
  spec.set_job_id("job-of-the-spec");
  rpc::PushTasksReply batch;
  batch.set_node_id("node-B");
  batch.set_worker_id("worker-B");
  rpc::PushTaskReply reply;
  reply.add_returns()->set_object_id(ObjectId::FromIndex(task, 1).Binary());
  reply.set_attempt(3);
  recorder.Replied(spec, reply, batch);
  // Without a return (none, or an id of another size), the spec's task id.
  rpc::PushTaskReply bare;
  bare.set_attempt(1);
  recorder.Replied(Spec("t2"), bare, batch);
  recorder.Stop();
  REQUIRE(sink.batches.size() == 1);
  const auto records = Sink::Records(sink.batches[0]);
  REQUIRE(records.size() == 2);
  CHECK(records[0].TaskId(sink.batches[0].strings()) == task.Binary());
  CHECK(records[0].attempt == 3);
  CHECK(Str(sink.batches[0], records[0].job) == "job1");
  CHECK(records[0].state == rpc::FINISHED);
  CHECK(records[1].TaskId(sink.batches[0].strings()) == "t2");
  CHECK(records[1].attempt == 1);
}

TEST_CASE("a burst of tasks with names of their own wakes the flusher when the string table is half full") {
  Sink sink;
  // 100,000 records, each with a name of its own, in about a second, into
  // a buffer their number alone never fills: the table holds 65,535
  // strings, so without a wake at its half the buffer fills and drops
  // records until the flusher's next tick (shown: 6,477 dropped).
  constexpr int kRecords = 100'000;
  const int64_t dropped = Burst(sink, /*buffer_size=*/1'000'000, kRecords, /*per_pause=*/1000, /*named=*/true);
  CHECK(dropped <= kRecords / 100);
  CHECK(sink.batches.size() >= 3);  // Woken at least twice before Stop.
}
