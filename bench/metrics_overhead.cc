// metrics_overhead: the cost of task metrics (docs/metrics.md) on task
// throughput, measured with them on and off in the same run.
// The parent runs this program again as a child per round, alternating
// LUMEN_TASK_METRICS=0 and =1 (off, on, off, on, ...: drift on the noisy
// machine hits both alike); each child starts a private cluster of 2 CPUs
// (LUMEN_BENCH_CPUS overrides) whose daemons export metrics, and measures
//   async   tasks_bench's single_client_tasks_async: 1,000 tasks, then Get
//   many    many_tasks at N = 10,000
//   sync    tasks_bench's single_client_tasks_sync: submit, Get, repeat
// printing medians. The parent prints the median of each figure per mode
// and the cost of metrics in percent (goal: at most 5%), and the cost of
// counting one task (TaskMetrics::Count, timed in the parent over 1,000,000
// calls) as a share of a task at the measured rates: on a machine too noisy
// for a few percent between runs, that share bounds what metrics can cost.
// Usage: metrics_overhead [rounds per mode, default 3]
#include <ray/api.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "bench/floors.h"
#include "worker/worker_metrics.h"

namespace {

using lumen::bench::Median;
using lumen::bench::Rate;

constexpr char kChildEnv[] = "LUMEN_METRICS_BENCH_CHILD";

int SmallValue() { return 0; }
int AddOne(int x) { return x + 1; }
RAY_REMOTE(SmallValue, AddOne);

void Batch(int n) {
  std::vector<ray::ObjectRef<int>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; ++i) refs.push_back(ray::Task(AddOne).Remote(i));
  for (auto& ref : refs) (void)*ray::Get(ref);
}

int Child(int argc, char** argv) {
  ray::RayConfig config;
  const char* cpus = std::getenv("LUMEN_BENCH_CPUS");
  config.num_cpus = cpus ? std::atoi(cpus) : 2;
  ray::Init(config, argc, argv);
  Batch(2000);  // Warm up: workers started and leased once.
  double async = Rate(5, 1000, [] { Batch(1000); });
  double many = Rate(3, 10000, [] { Batch(10000); });
  double sync = Rate(5, 300, [] {
    for (int i = 0; i < 300; ++i) (void)*ray::Get(ray::Task(SmallValue).Remote());
  });
  std::printf("async=%f many=%f sync=%f\n", async, many, sync);
  std::fflush(stdout);
  ray::Shutdown();
  return 0;
}

// Runs this program as a child with task metrics on or off; its figures.
std::map<std::string, double> RunChild(bool metrics_on) {
  int out[2];
  if (::pipe(out) != 0) return {};
  pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(out[1], STDOUT_FILENO);
    ::close(out[0]);
    ::close(out[1]);
    ::setenv(kChildEnv, "1", 1);
    ::setenv("LUMEN_TASK_METRICS", metrics_on ? "1" : "0", 1);
    ::execl("/proc/self/exe", "metrics_overhead", static_cast<char*>(nullptr));
    std::_Exit(127);
  }
  ::close(out[1]);
  std::string text;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(out[0], buf, sizeof(buf))) > 0) text.append(buf, n);
  ::close(out[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  std::map<std::string, double> figures;
  for (const char* key : {"async", "many", "sync"}) {
    size_t at = text.rfind(std::string(key) + "=");
    if (at != std::string::npos) figures[key] = std::atof(text.c_str() + at + std::strlen(key) + 1);
  }
  return figures;
}

// Nanoseconds per TaskMetrics::Count of an existing name.
double CountNanos() {
  lumen::worker::ProcessMetricsState state;
  lumen::worker::TaskMetrics metrics(state);
  const std::string names[4] = {"AddOne", "SmallValue", "Twice", "Work"};
  constexpr int kCalls = 1000000;
  auto start = lumen::bench::Clock::now();
  for (int i = 0; i < kCalls; ++i) metrics.Count(names[i & 3], false);
  return 1e9 * lumen::bench::SecondsSince(start) / kCalls;
}

}  // namespace

int main(int argc, char** argv) {
  if (std::getenv(kChildEnv) != nullptr) return Child(argc, argv);
  const int rounds = argc > 1 ? std::max(1, std::atoi(argv[1])) : 3;
  std::map<std::string, std::vector<double>> off, on;
  for (int r = 0; r < rounds; ++r) {
    for (bool metrics_on : {false, true}) {
      for (const auto& [key, value] : RunChild(metrics_on)) (metrics_on ? on : off)[key].push_back(value);
    }
  }
  std::printf("%-10s %14s %14s %8s\n", "figure", "metrics off/s", "metrics on/s", "cost");
  int failures = 0;
  for (const char* key : {"async", "many", "sync"}) {
    if (off[key].empty() || on[key].empty()) {
      std::printf("%-10s no figure (a child failed)\n", key);
      ++failures;
      continue;
    }
    double a = Median(off[key]), b = Median(on[key]);
    std::printf("%-10s %14.1f %14.1f %7.1f%%\n", key, a, b, 100 * (a - b) / a);
  }
  const double nanos = CountNanos();
  std::printf("counting one task: %.0f ns", nanos);
  if (!on["async"].empty()) std::printf(", %.2f%% of a task at the async rate", nanos * Median(on["async"]) / 1e7);
  if (!on["sync"].empty()) std::printf(", %.2f%% at the sync rate", nanos * Median(on["sync"]) / 1e7);
  std::printf("\n");
  return failures == 0 ? 0 : 1;
}
