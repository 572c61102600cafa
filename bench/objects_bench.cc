// Object benchmarks on a private local cluster (2 CPUs by default;
// LUMEN_BENCH_CPUS overrides; a 4 GB object store):
//   single_client_put_gigabytes  ray::Put of an 800 MB std::vector<double>
//                                through the API, next to memcpy of the
//                                same size into memory already touched,
//                                measured in the same run
//   single_client_put_calls      ray::Put of a small int
//   single_client_get_calls      ray::Get of a small object
//   five_sums                    the tutorial's five sums of one 800 MB
//                                array passed by ref, as ArrayView (Lumen's
//                                zero-copy view) and as std::vector (Ray's
//                                API: a decoded copy), against the same five
//                                sums in this process on the same array
//   bad_vs_good                  five tasks given the array by value (five
//                                serialized copies) against put once, pass
//                                the ref (std::vector parameters both)
//   get_view_in_task             ray::GetView of the 800 MB array in a task
//                                on the same node (first call, and again)
// Each figure is the median of several repetitions, printed beside Ray's
// published figure where there is one, and ratios against the floors.
// LUMEN_BENCH_MB sets the array size (default 800).
#include <ray/api.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <string>
#include <vector>

#include "bench/floors.h"

namespace {

using lumen::bench::Clock;
using lumen::bench::Median;
using lumen::bench::Rate;
using lumen::bench::SecondsSince;

double SumView(ray::ArrayView<double> v) { return std::accumulate(v.begin(), v.end(), 0.0); }
double SumVector(std::vector<double> v) { return std::accumulate(v.begin(), v.end(), 0.0); }

// Seconds of the first ray::GetView of `ref` in this task, then the median
// of nine more.
std::vector<double> TimeGetView(ray::ObjectRef<std::vector<double>> ref) {
  std::vector<double> out;
  auto start = Clock::now();
  size_t n = ray::GetView(ref).size();
  out.push_back(SecondsSince(start));
  std::vector<double> again;
  for (int i = 0; i < 9; ++i) {
    start = Clock::now();
    n += ray::GetView(ref).size();
    again.push_back(SecondsSince(start));
  }
  out.push_back(Median(again));
  out.push_back(static_cast<double>(n));
  return out;
}

RAY_REMOTE(SumView, SumVector, TimeGetView);

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

template <typename F>
double MedianSeconds(int reps, F body) {
  std::vector<double> s;
  for (int r = 0; r < reps; ++r) {
    auto start = Clock::now();
    body();
    s.push_back(SecondsSince(start));
  }
  return Median(s);
}

template <typename F>
std::vector<double> FiveSums(F submit) {
  std::vector<ray::ObjectRef<double>> refs;
  for (int i = 0; i < 5; ++i) refs.push_back(submit());
  std::vector<double> out;
  for (const auto& r : ray::Get(refs)) out.push_back(*r);
  return out;
}

void PutGigabytes(const std::vector<double>& array) {
  const double bytes = static_cast<double>(array.size() * sizeof(double));
  std::vector<char> dest(array.size() * sizeof(double), 1);  // Touched.
  double memcpy_s = MedianSeconds(5, [&] { std::memcpy(dest.data(), array.data(), dest.size()); });
  double put_s = MedianSeconds(5, [&] { ray::Put(array); });  // Freed at once.
  std::printf("single_client_put_gigabytes      %8.2f GB/s   memcpy %6.2f GB/s   ratio %.2fx memcpy (goal >= 0.8)\n",
              bytes / put_s / 1e9, bytes / memcpy_s / 1e9, memcpy_s / put_s);
}

void SmallCalls() {
  constexpr int kOps = 100000;
  std::vector<ray::ObjectRef<int>> kept;
  kept.reserve(kOps);
  double put_rate = Rate(5, kOps, [&] {
    kept.clear();
    for (int i = 0; i < kOps; ++i) kept.push_back(ray::Put(i));
  });
  kept.clear();
  auto ref = ray::Put(42);
  int64_t sum = 0;
  double get_rate = Rate(5, kOps, [&] {
    for (int i = 0; i < kOps; ++i) sum += *ray::Get(ref);
  });
  std::printf("single_client_put_calls          %8.0f /s     (Ray ~5,200/s; goal >= 100,000/s)\n", put_rate);
  std::printf("single_client_get_calls          %8.0f /s     (Ray ~10,500/s; goal >= 100,000/s)\n", get_rate);
  if (sum == 0) std::printf("(unexpected zero sum)\n");
}

void Sums(const std::vector<double>& array) {
  const double expected = std::accumulate(array.begin(), array.end(), 0.0);
  double local_s = MedianSeconds(3, [&] {
    for (int i = 0; i < 5; ++i) {
      volatile double s = std::accumulate(array.begin(), array.end(), 0.0);
      (void)s;
    }
  });
  auto ref = ray::Put(array);
  bool all_equal = true;
  auto check = [&](const std::vector<double>& sums) {
    for (double s : sums) all_equal &= s == expected;
  };
  FiveSums([&] { return ray::Task(SumView).Remote(ref); });  // Warm the workers.
  double view_s = MedianSeconds(3, [&] { check(FiveSums([&] { return ray::Task(SumView).Remote(ref); })); });
  double good_s = MedianSeconds(3, [&] { check(FiveSums([&] { return ray::Task(SumVector).Remote(ref); })); });
  double bad_s = MedianSeconds(3, [&] { check(FiveSums([&] { return ray::Task(SumVector).Remote(array); })); });
  std::printf("five_sums in this process        %8.3f s\n", local_s);
  std::printf("five_sums by ref, ArrayView      %8.3f s     %.2fx the in-process sums (goal <= 1.5)\n", view_s,
              view_s / local_s);
  std::printf("five_sums by ref, std::vector    %8.3f s     %.2fx the in-process sums\n", good_s, good_s / local_s);
  std::printf("bad (by value x5)                %8.3f s\n", bad_s);
  std::printf("bad / good (std::vector)         %8.2fx    bad / ArrayView %.2fx   (Ray's tutorial: 7.1x)\n",
              bad_s / good_s, bad_s / view_s);
  std::printf("all sums equal                   %s\n", all_equal ? "yes" : "NO");

  std::vector<double> first, again;
  for (int r = 0; r < 5; ++r) {
    auto t = *ray::Get(ray::Task(TimeGetView).Remote(ref));
    first.push_back(t[0]);
    again.push_back(t[1]);
  }
  std::printf("get_view_in_task                 %8.3f ms    first Get in the task; %.3f ms again (goal < 1 ms)\n",
              Median(first) * 1e3, Median(again) * 1e3);
}

}  // namespace

int main(int argc, char** argv) {
  ray::RayConfig config;
  config.num_cpus = EnvInt("LUMEN_BENCH_CPUS", 2);
  config.object_store_memory = 4LL * 1024 * 1024 * 1024;
  ray::Init(config, argc, argv);
  const size_t mb = static_cast<size_t>(EnvInt("LUMEN_BENCH_MB", 800));
  std::vector<double> array(mb * 1000 * 1000 / sizeof(double));
  for (size_t i = 0; i < array.size(); ++i) array[i] = static_cast<double>(i % 1000) * 0.25;
  std::printf("objects_bench: %zu MB array, %d CPUs\n", mb, config.num_cpus);
  PutGigabytes(array);
  SmallCalls();
  Sums(array);
  ray::Shutdown();
  return 0;
}
