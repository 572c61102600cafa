// many_tasks: submit N tiny tasks, then ray::Get all of them, for
// N = 10,000, 100,000 and 1,000,000 (or the N given as arguments), on a
// private local cluster of 2 CPUs (LUMEN_BENCH_CPUS overrides).
// Prints, per N, the median tasks/s over the repetitions, the driver's
// peak resident memory during the round and the peak growth per task, and
// the rate of the largest N as a fraction of the rate of the smallest (the
// measure of linear scaling: 1.0 means no per-task cost grows with N).
// Goal on the 2-core machine: 1,000,000 in at most 15 s, within 20% of the
// 10,000 rate, and at most ~1 KiB of driver memory per pending task.
#include <ray/api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

int AddOne(int x) { return x + 1; }

// A field of /proc/self/status in KiB (VmRSS, VmHWM).
long StatusKib(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) == 0) return std::atol(line.c_str() + field.size() + 1);
  }
  return -1;
}

// Resets VmHWM to the current RSS (Linux: "5" to clear_refs).
void ResetPeakRss() { std::ofstream("/proc/self/clear_refs") << "5"; }

struct Round {
  double seconds;
  long base_kib;
  long peak_kib;
  double submit_s, get_s, release_s;  // The phases of `seconds`.
};

double Since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

Round RunOnce(int n) {
  ResetPeakRss();
  long base = StatusKib("VmRSS");
  auto start = Clock::now();
  double submit_s = 0, get_s = 0;
  Clock::time_point release;
  {
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(n);
    for (int i = 0; i < n; ++i) refs.push_back(ray::Task(AddOne).Remote(i));
    submit_s = Since(start);
    auto values = ray::Get(refs);
    get_s = Since(start) - submit_s;
    for (int i = 0; i < n; i += n / 10 + 1) {
      if (*values[i] != i + 1) {
        std::fprintf(stderr, "wrong result for task %d: %d\n", i, *values[i]);
        std::exit(1);
      }
    }
    release = Clock::now();
  }
  double s = Since(start);
  return {s, base, StatusKib("VmHWM"), submit_s, get_s, Since(release)};
}

}  // namespace

RAY_REMOTE(AddOne);

int main(int argc, char** argv) {
  std::vector<int> sizes;
  for (int i = 1; i < argc; ++i) {
    if (argv[i][0] != '-') sizes.push_back(std::atoi(argv[i]));
  }
  if (sizes.empty()) sizes = {10000, 100000, 1000000};
  ray::RayConfig config;
  const char* cpus = std::getenv("LUMEN_BENCH_CPUS");
  // The size of the private cluster; a cluster joined through RAY_ADDRESS
  // has its own (and ray::Init refuses local-cluster settings when joining).
  const char* address = std::getenv("RAY_ADDRESS");
  if (address == nullptr || *address == '\0') config.num_cpus = cpus ? std::atoi(cpus) : 2;
  ray::Init(config, argc, argv);
  RunOnce(2000);  // Warm up: workers started and leased once.
  double first_rate = 0, last_rate = 0;
  for (int n : sizes) {
    int reps = n >= 1000000 ? 1 : n >= 100000 ? 3 : 5;
    std::vector<double> rates;
    long peak = 0, base = 0;
    double seconds = 0, submit = 0, get = 0, released = 0;
    for (int r = 0; r < reps; ++r) {
      Round round = RunOnce(n);
      rates.push_back(n / round.seconds);
      if (round.peak_kib - round.base_kib > peak - base) {
        peak = round.peak_kib;
        base = round.base_kib;
      }
      seconds += round.seconds;
      submit += round.submit_s;
      get += round.get_s;
      released += round.release_s;
    }
    std::sort(rates.begin(), rates.end());
    double rate = rates[rates.size() / 2];
    if (first_rate == 0) first_rate = rate;
    last_rate = rate;
    std::printf("many_tasks n=%-8d %10.0f tasks/s  (median of %d, %.2f s each: submit %.2f, get "
                "%.2f, release %.2f)  driver peak RSS %ld MiB, +%.0f B per task\n",
                n, rate, reps, seconds / reps, submit / reps, get / reps, released / reps,
                peak / 1024, 1024.0 * (peak - base) / n);
    std::fflush(stdout);
  }
  if (sizes.size() > 1) {
    std::printf("many_tasks rate(n=%d) / rate(n=%d) = %.2f  (1.00 = linear; goal >= 0.80)\n",
                sizes.back(), sizes.front(), last_rate / first_rate);
  }
  ray::Shutdown();
  return 0;
}
