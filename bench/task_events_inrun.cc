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
// Usage: task_events_inrun [pairs, default 10]
#include <ray/api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>
#include <vector>

#include "bench/floors.h"
#include "worker/runtime.h"
#include "worker/task_events.h"

namespace {

using lumen::bench::Clock;
using lumen::bench::MachineBusySeconds;
using lumen::bench::Median;
using lumen::bench::SecondsSince;

int AddOne(int x) { return x + 1; }
RAY_REMOTE(AddOne);

struct Sample {
  double rate = 0;        // Tasks per second.
  double cpu_us = 0;      // Machine CPU per task, µs.
};

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

}  // namespace

int main(int argc, char** argv) {
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
  const double executor_ns = ExecutorSideNs();
  std::printf("executor side (not switched above): Running + Executed %.0f ns per task in this process, "
              "%.1f%% of the machine's CPU per task in the burst (recording paused)\n",
              executor_ns, burst_cpu_us > 0 ? 100 * executor_ns / (burst_cpu_us * 1000) : 0.0);
  return 0;
}
