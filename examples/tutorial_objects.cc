// Section 5 of the Ray Core tutorial ("Zero to Hero"), in C++ on Lumen:
// the object store. A 10,000 x 10,000 array of doubles (~800 MB) made by a
// task stays in shared memory and the driver holds only a ref; five tasks
// sum one array by ref, reading it in place (ray::ArrayView, Lumen's
// zero-copy view); the "bad" way (the array passed by value five times)
// against the "good" way (ray::Put once, pass the ref), timed.
// The private cluster gets a 4 GB object store (RayConfig::
// object_store_memory): the store lives in /dev/shm, which must be at least
// that large (`df -h /dev/shm`); the working set peaks near 9 GB of RAM.
#include <ray/api.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <numeric>
#include <utility>
#include <random>
#include <vector>

namespace {

constexpr int64_t kRows = 10000;
constexpr int64_t kCols = 10000;

double Seconds(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

// np.zeros((10000, 10000)): the shape travels with the data.
struct Matrix {
  int64_t rows = 0;
  int64_t cols = 0;
  std::vector<double> data;
  MSGPACK_DEFINE(rows, cols, data);
};

Matrix create_array() { return Matrix{kRows, kCols, std::vector<double>(kRows * kCols, 0.0)}; }

// np.random.random((10000, 10000)), flattened.
std::vector<double> create_data() {
  std::mt19937_64 rng(42);
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> data(kRows * kCols);
  for (double& x : data) x = uniform(rng);
  return data;
}

// Reads the array where it lies in the object store: no copy.
double process_data(ray::ArrayView<double> data) { return std::accumulate(data.begin(), data.end(), 0.0); }

// Ray's C++ API: the parameter is a decoded copy (one memcpy on Lumen).
double process(std::vector<double> data) { return std::accumulate(data.begin(), data.end(), 0.0); }

RAY_REMOTE(create_array, create_data, process_data, process);

int main(int argc, char** argv) {
  ray::RayConfig config;
  config.num_cpus = 2;
  config.object_store_memory = 4LL * 1024 * 1024 * 1024;
  ray::Init(config, argc, argv);
  std::cout.precision(2);
  std::cout << std::fixed;

  std::cout << "== The object store ==" << std::endl;
  ray::ObjectRef<Matrix> ref = ray::Task(create_array).Remote();  // Returns at once.
  std::cout << ref << std::endl;
  std::shared_ptr<Matrix> array = ray::Get(ref);  // Blocks until the object is ready.
  std::cout << "(" << array->rows << ", " << array->cols << ")" << std::endl;
  array.reset();

  std::cout << "== Zero-copy reads ==" << std::endl;
  ray::ObjectRef<std::vector<double>> data_ref = ray::Task(create_data).Remote();
  std::cout << "data_ref:  " << data_ref << std::endl;
  std::vector<ray::ObjectRef<double>> refs;
  for (int i = 0; i < 5; ++i) refs.push_back(ray::Task(process_data).Remote(data_ref));
  std::vector<double> results;
  for (const auto& r : ray::Get(refs)) results.push_back(*r);
  std::cout << "[";
  for (size_t i = 0; i < results.size(); ++i) std::cout << (i ? ", " : "") << results[i];
  std::cout << "]" << std::endl;
  bool same = std::equal(results.begin() + 1, results.end(), results.begin());
  std::cout << "all equal: " << (same ? "yes" : "no") << std::endl;

  std::cout << "== Put once, pass the ref ==" << std::endl;
  std::vector<double> large_array = *ray::Get(data_ref);
  auto put_ref = ray::Put(large_array);  // Stored once in the object store.

  // Five tasks from `submit`, all waited for: their sums and the seconds.
  auto five = [](auto submit) {
    auto start = std::chrono::steady_clock::now();
    std::vector<ray::ObjectRef<double>> refs;
    for (int i = 0; i < 5; ++i) refs.push_back(submit());
    std::vector<double> sums;
    for (const auto& r : ray::Get(refs)) sums.push_back(*r);
    return std::make_pair(sums, Seconds(start));
  };
  auto [bad_results, bad_time] = five([&] { return ray::Task(process).Remote(large_array); });
  std::cout << "Bad (pass data):  " << bad_time << "s" << std::endl;
  auto [good_results, good_time] = five([&] { return ray::Task(process).Remote(put_ref); });
  std::cout << "Good (pass ref):  " << good_time << "s" << std::endl;
  std::cout << "Speedup: " << bad_time / good_time << "x" << std::endl;
  auto [view_results, view_time] = five([&] { return ray::Task(process_data).Remote(put_ref); });
  std::cout << "Good (pass ref, ArrayView):  " << view_time << "s" << std::endl;
  std::cout << "Speedup: " << bad_time / view_time << "x" << std::endl;

  bool all_same = true;
  for (const auto* sums : {&bad_results, &good_results, &view_results}) {
    for (double r : *sums) all_same &= r == bad_results[0];
  }
  std::cout << "Results (all same): " << good_results[0] << (all_same ? "" : " (MISMATCH)") << std::endl;
  ray::Shutdown();
  return 0;
}
