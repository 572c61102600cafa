// A driver for integration_metrics_test: joins RAY_ADDRESS, runs `n` tasks
// (functions from the shared library on --ray_code_search_path, loaded by
// lumen-worker), records user metrics of every kind (ray/api/metric.h), and
// shuts down, which sends its last metrics to the raylet. One more task
// fails: its function is not in the library the workers load.
// Prints "tasks=<n>"; exit 1 with the error on failure.
#include <ray/api.h>

#include <iostream>
#include <string>
#include <vector>

#include "tests/join_tasks.h"

// Registered here only: lumen-worker, which loads the functions of the code
// search path, does not have it, so its task fails (counted as FAILED).
int OnlyInDriver(int x) { return x; }
RAY_REMOTE(OnlyInDriver);

int main(int argc, char** argv) {
  try {
    const int n = argc > 1 ? std::stoi(argv[1]) : 20;
    ray::RayConfig config;
    ray::Init(config, argc, argv);
    ray::Counter requests("metrics_test_requests", "Requests served by the test driver.", "requests",
                          {"route"});
    ray::Gauge depth("metrics_test_depth", "A gauge set by the test driver.", "items", {"queue"});
    ray::Histogram latency("metrics_test_latency", "Latencies seen by the test driver.", "ms",
                           {1, 10, 100}, {"route"});
    ray::Sum bytes("metrics_test_bytes", "Bytes moved by the test driver.", "bytes", {});
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < n; ++i) refs.push_back(ray::Task(RAY_FUNC(Twice, int)).Remote(i));
    int sum = 0;
    for (auto& ref : refs) sum += *ray::Get(ref);
    bool failed = false;
    try {
      (void)*ray::Get(ray::Task(OnlyInDriver).Remote(1));
    } catch (const std::exception& e) {
      failed = true;
    }
    std::cout << "failed_task=" << (failed ? "yes" : "no") << std::endl;
    requests.Inc(3, {{"route", "/x"}});
    depth.Set(7, {{"queue", "q\"1"}});
    latency.Observe(5, {{"route", "/x"}});
    latency.Observe(500, {{"route", "/x"}});
    bytes.Record(4096, {});
    std::cout << "tasks=" << n << " sum=" << sum << std::endl;
    ray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "driver error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
