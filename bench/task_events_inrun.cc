// task_events_inrun: the caller's cost of task events measured inside one
// run (docs/observability.md, "Overhead"). Between two runs of a bench this
// machine's figures differ by up to 30% (which cores the processes land on,
// the neighbours of the VM), so bench/task_events_overhead.sh, which
// compares whole runs, needs many rounds to see a 5% effect. Here one
// driver and one private cluster (2 CPUs) alternate rounds with recording
// on and paused (worker/runtime.h: SetTaskEventRecording), in the order
// on, off, off, on, ... so each pair of neighbours shares the machine's
// state of that moment. Each round ends by sending what it recorded
// (FlushTaskEvents, inside its timed window), so a round pays for its own
// records: recording, the flusher's message, gRPC, and the GCS taking them.
// Rounds, each about a second:
//   sync    15,000 tasks, each submitted and got before the next
//   async   150 x (1,000 submitted, then got)
//   burst   100,000 submitted, then got (many_tasks' n=100,000)
// Prints per figure: the median rate with recording on and off, the change
// of the medians, the median of the pairs' own changes, and the machine's
// CPU per task (/proc/stat, every process: the cluster is most of it) on
// and off. The executors' side (a worker records nothing for a task that
// ends within 200 ms; per task it reads the clock twice and holds a mutex
// of its own twice) is not switched here: the workers keep the setting
// they started with, LUMEN_TASK_EVENTS=1, in both halves. Its cost is
// measured apart, in this process: a recorder's Running and Executed for
// 1,000,000 tasks, ns per task, next to the cluster's CPU per task.
// So is the caller's own CPU per task, with far less noise than the rates:
// 200,000 tasks recorded at 150,000/s by one thread (submissions in bursts
// of 1,000, each reply 100 bursts later, when its spec has left the
// caches), every record sent by the flusher, serialized and parsed back
// (standing in for gRPC and the GCS), less the same loop with recording
// paused; with a 10,000-record buffer and with the default.
// Usage: task_events_inrun [pairs, default 10]
//        task_events_inrun sides   (only the in-process costs; no cluster)
#include <ray/api.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <ctime>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "bench/floors.h"
#include "worker/runtime.h"
#include "worker/task_events.h"

namespace {

using lumen::bench::Clock;
using lumen::worker::TaskEventOptions;
using lumen::bench::MachineBusySeconds;
using lumen::bench::Median;
using lumen::bench::SecondsSince;

int AddOne(int x) { return x + 1; }
RAY_REMOTE(AddOne);

struct Sample {
  double rate = 0;        // Tasks per second.
  double cpu_us = 0;      // Machine CPU per task, µs.
};

double CpuSeconds(clockid_t clock) {
  timespec ts;
  ::clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}
double ProcessCpuSeconds() { return CpuSeconds(CLOCK_PROCESS_CPUTIME_ID); }
double ThreadCpuSeconds() { return CpuSeconds(CLOCK_THREAD_CPUTIME_ID); }

Sample Round(int tasks, const std::function<void()>& body, bool on) {
  lumen::worker::SetTaskEventRecording(on);
  const double cpu_before = MachineBusySeconds();
  auto start = Clock::now();
  body();
  lumen::worker::FlushTaskEvents();
  const double seconds = SecondsSince(start);
  return {tasks / seconds, (MachineBusySeconds() - cpu_before) * 1e6 / tasks};
}

// Returns the median CPU per task with recording paused.
double Figure(const char* name, int tasks, int pairs, const std::function<void()>& body) {
  std::vector<double> on_rate, off_rate, on_cpu, off_cpu, paired;
  const int64_t dropped_before = lumen::worker::TaskEventsDropped();
  for (int p = 0; p < pairs; ++p) {
    // on, off | off, on | on, off ...: neither side always goes first.
    const bool on_first = p % 2 == 0;
    Sample a = Round(tasks, body, on_first);
    Sample b = Round(tasks, body, !on_first);
    const Sample& on = on_first ? a : b;
    const Sample& off = on_first ? b : a;
    on_rate.push_back(on.rate);
    off_rate.push_back(off.rate);
    on_cpu.push_back(on.cpu_us);
    off_cpu.push_back(off.cpu_us);
    paired.push_back(100 * (on.rate - off.rate) / off.rate);
  }
  lumen::worker::SetTaskEventRecording(true);
  const int64_t dropped = lumen::worker::TaskEventsDropped() - dropped_before;
  const double on = Median(on_rate), off = Median(off_rate);
  std::printf("%-8s %10.0f /s on %10.0f /s off %+6.1f%% paired %+6.1f%%   cpu/task %6.2f us on %6.2f us off %+6.1f%%\n",
              name, on, off, 100 * (on - off) / off, Median(paired), Median(on_cpu), Median(off_cpu),
              100 * (Median(on_cpu) - Median(off_cpu)) / Median(off_cpu));
  // Each task makes two records (submitted, ended) when recording.
  std::printf("%-8s records dropped (buffers full): %lld of %lld\n", "", static_cast<long long>(dropped),
              2LL * tasks * pairs);
  std::fflush(stdout);
  return Median(off_cpu);
}

// The executor's per-task calls, in this process, ns per task.
double ExecutorSideNs() {
  lumen::worker::TaskEventOptions options;
  options.running_after_ms = 1 << 30;  // As for tasks that end in time: no record.
  lumen::worker::TaskEventRecorder recorder(options, [](const lumen::rpc::AddTaskEventDataRequest&) {
    return absl::OkStatus();
  });
  recorder.SetProcess("job", "node", "worker");
  recorder.Start();
  lumen::rpc::TaskSpec spec;
  spec.set_task_id(std::string(24, 't'));
  spec.set_function_name("AddOne");
  constexpr int kTasks = 1'000'000;
  int64_t sink = 0;
  auto start = Clock::now();
  for (int i = 0; i < kTasks; ++i) {
    recorder.Running(spec, lumen::worker::TaskEventRecorder::NowNs());
    sink += recorder.Executed(spec);
  }
  const double ns = std::chrono::duration<double, std::nano>(Clock::now() - start).count() / kTasks;
  recorder.Stop();
  return sink == 0 ? -1 : ns;
}

// The caller's per-task calls with every record sent, in this process: CPU
// ns per task (both threads: the recording one and the flusher).
// Submissions come in bursts of 1,000 (as the owner's loop takes them),
// each task's reply 100 bursts later (as in the burst figure), at 150,000
// tasks/s; the flusher serializes each batch as gRPC would and parses it
// back as the GCS does. Not counted: the kernel's and gRPC's own
// per-message work, the GCS's append.
// `paused`: the same loop with recording paused, the bench's own share.
double CallerSideNs(size_t buffer_size, bool paused, int64_t* dropped, double* recording_ns) {
  TaskEventOptions options;
  options.buffer_size = buffer_size;
  std::atomic<int64_t> parsed_bytes{0};
  lumen::worker::TaskEventRecorder recorder(options, [&](const lumen::rpc::AddTaskEventDataRequest& request) {
    std::string wire;
    if (!request.SerializeToString(&wire)) return absl::InternalError("serialize");
    lumen::rpc::AddTaskEventDataRequest parsed;
    if (!parsed.ParseFromString(wire)) return absl::InternalError("parse");
    parsed_bytes.fetch_add(static_cast<int64_t>(parsed.records().size()), std::memory_order_relaxed);
    return absl::OkStatus();
  });
  recorder.SetProcess(std::string(4, 'j'), std::string(28, 'n'), std::string(28, 'w'));
  recorder.Start();
  recorder.SetRecording(!paused);
  constexpr int kTasks = 200'000, kBurst = 1000;
  std::vector<lumen::rpc::TaskSpec> specs(kTasks);
  // Each reply's return id, as parsed from the wire just before (in cache).
  std::vector<std::array<char, 28>> return_ids(kTasks);
  for (int i = 0; i < kTasks; ++i) {  // Ids as TaskId::ForNormalTask makes them: 8 bytes of their own.
    std::string id(24, 'a');
    std::memcpy(id.data(), &i, sizeof(i));
    std::memcpy(return_ids[i].data(), id.data(), id.size());
    std::memset(return_ids[i].data() + id.size(), 1, 4);  // Return 1.
    specs[i].set_task_id(id);
    specs[i].set_job_id(std::string(4, 'j'));
    specs[i].set_function_name("AddOne");
  }
  lumen::rpc::PushTasksReply batch;
  batch.set_node_id(std::string(28, 'N'));
  batch.set_worker_id(std::string(28, 'W'));
  batch.set_worker_pid(4242);
  lumen::rpc::PushTaskReply reply;
  reply.add_returns()->set_data("x");
  // Paced at the burst figure's rate, about 150,000 tasks/s (unpaced, the
  // loop records faster than any cluster runs tasks and the flusher,
  // niced, falls behind). A task's reply comes kLag bursts after its
  // submission: 100,000 in flight, as in the burst figure, so its spec has
  // left the caches by then; at its submission the submitter has just
  // built it, so it is read in cache.
  constexpr int kLag = 100;
  constexpr auto kPerBurst = std::chrono::microseconds(kBurst * 1'000'000 / 150'000);
  const double cpu_before = ProcessCpuSeconds();
  const double thread_before = ThreadCpuSeconds();
  double recording = 0;  // This thread's CPU in the recorder's calls.
  int64_t sink = 0;
  auto next = Clock::now();
  for (int b = 0; b < kTasks + kLag * kBurst; b += kBurst) {
    std::this_thread::sleep_until(next);
    next += kPerBurst;
    for (int i = b; i < std::min(kTasks, b + kBurst); ++i) {
      sink += specs[i].task_id()[0] + specs[i].job_id()[0] + specs[i].function_name()[0] + specs[i].attempt();
    }
    const double start = ThreadCpuSeconds();
    if (b < kTasks) recorder.SubmittedAll(&specs[b], kBurst);
    if (const int r = b - kLag * kBurst; r >= 0) {
      const int64_t now = lumen::worker::TaskEventRecorder::NowNs();
      reply.set_received_ns(now - 20'000);
      reply.set_running_ns(now - 10'000);
      for (int i = r; i < r + kBurst; ++i) {
        reply.mutable_returns(0)->set_object_id(return_ids[i].data(), return_ids[i].size());
        recorder.Replied(specs[i], reply, batch);
      }
    }
    recording += ThreadCpuSeconds() - start;
  }
  const double thread_cpu = ThreadCpuSeconds() - thread_before;
  recorder.Stop();  // The last batch sent.
  const double others = ProcessCpuSeconds() - cpu_before - thread_cpu;  // The flusher's.
  *dropped = recorder.dropped_total();
  const int64_t sent = parsed_bytes.load() / static_cast<int64_t>(sizeof(lumen::CompactTaskEventRecord));
  if (sent + *dropped != (paused ? 0 : 2LL * kTasks) || sink == 0) std::abort();  // Every record sent or counted.
  *recording_ns = recording * 1e9 / kTasks;
  return (recording + others) * 1e9 / kTasks;
}

// The recorder's own CPU per task on each side, measured in this process
// (`burst_cpu_us`: the machine's per task in the burst, 0: not measured).
void PrintSideCosts(double burst_cpu_us) {
  int64_t dropped = 0;
  double paused_recording_ns = 0;
  const double paused_ns = CallerSideNs(TaskEventOptions().buffer_size, true, &dropped, &paused_recording_ns);
  for (size_t buffer : {size_t{10'000}, TaskEventOptions().buffer_size}) {
    double recording_ns = 0;
    const double caller_ns = CallerSideNs(buffer, false, &dropped, &recording_ns) - paused_ns;
    std::printf("caller side, every record sent (buffer %zu): %.0f ns of CPU per task in this process (%.0f in the "
                "recording thread), %.1f%% of the machine's CPU per task in the burst (recording paused); %lld "
                "records dropped\n",
                buffer, caller_ns, recording_ns - paused_recording_ns,
                burst_cpu_us > 0 ? 100 * caller_ns / (burst_cpu_us * 1000) : 0.0, static_cast<long long>(dropped));
  }
  const double executor_ns = ExecutorSideNs();
  std::printf("executor side (not switched above): Running + Executed %.0f ns per task in this process, "
              "%.1f%% of the machine's CPU per task in the burst (recording paused)\n",
              executor_ns, burst_cpu_us > 0 ? 100 * executor_ns / (burst_cpu_us * 1000) : 0.0);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "sides") {  // Only the in-process costs: no cluster.
    PrintSideCosts(0);
    return 0;
  }
  const int pairs = argc > 1 && argv[1][0] != '-' ? std::max(1, std::atoi(argv[1])) : 10;
  const char* events = std::getenv("LUMEN_TASK_EVENTS");
  if (events != nullptr && std::string(events) == "0") {
    std::fprintf(stderr, "task_events_inrun: task events are off (LUMEN_TASK_EVENTS=0): nothing to compare\n");
    return 2;
  }
  ray::RayConfig config;
  config.num_cpus = 2;
  ray::Init(config, argc, argv);
  {  // Warm up: workers started and leased.
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < 20000; ++i) refs.push_back(ray::Task(AddOne).Remote(i));
    ray::Get(refs);
  }
  std::printf("task events in one run: recording on against paused, %d pairs of rounds (medians)\n", pairs);
  Figure("sync", 15000, pairs, [] {
    for (int i = 0; i < 15000; ++i) {
      if (*ray::Task(AddOne).Remote(i).Get() != i + 1) std::abort();
    }
  });
  Figure("async", 150000, pairs, [] {
    for (int b = 0; b < 150; ++b) {
      std::vector<ray::ObjectRef<int>> refs;
      refs.reserve(1000);
      for (int i = 0; i < 1000; ++i) refs.push_back(ray::Task(AddOne).Remote(i));
      ray::Get(refs);
    }
  });
  const double burst_cpu_us = Figure("burst", 100000, pairs, [] {
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(100000);
    for (int i = 0; i < 100000; ++i) refs.push_back(ray::Task(AddOne).Remote(i));
    auto values = ray::Get(refs);
    if (*values[99999] != 100000) std::abort();
  });
  ray::Shutdown();
  PrintSideCosts(burst_cpu_us);
  return 0;
}
