// The task path at scale on a real 2-CPU local cluster: 300,000 tiny tasks
// submitted and then fetched; backpressure bounding the tasks in flight;
// nothing left in the driver's store or reference table afterwards, also
// for tasks whose references were dropped before they finished.
#include <ray/api.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <stdexcept>
#include <thread>

#include <unistd.h>

#include "tests/harness.h"
#include "tests/tasks_harness.h"
#include "worker/runtime.h"

namespace {

int AddOne(int x) { return x + 1; }
int Pid() { return ::getpid(); }
int Throw(int x) { throw std::runtime_error("task " + std::to_string(x) + " fails"); }

// Waits (polling the runtime's counters) until no task is in flight.
bool Drained(int timeout_ms) {
  return lumen::testing::WaitUntil(
      [] { return lumen::worker::GetRuntimeStats().tasks_in_flight == 0; }, timeout_ms, 20);
}

}  // namespace

RAY_REMOTE(AddOne, Throw, Pid);

TEST_CASE("300,000 tiny tasks submitted, then fetched, all come back right") {
  auto before = lumen::worker::GetRuntimeStats();
  constexpr int kTasks = 300000;
  {
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(kTasks);
    for (int i = 0; i < kTasks; ++i) refs.push_back(ray::Task(AddOne).Remote(i));
    auto values = ray::Get(refs);
    REQUIRE(values.size() == kTasks);
    int64_t sum = 0;
    for (const auto& v : values) sum += *v;
    CHECK(sum == int64_t{kTasks} * (kTasks + 1) / 2);
  }
  // Every reference dropped: the store and the table are back where they were.
  auto after = lumen::worker::GetRuntimeStats();
  CHECK(after.tasks_in_flight == 0);
  CHECK(after.objects_in_store == before.objects_in_store);
  CHECK(after.references == before.references);
  // The harness checks after Shutdown that these workers are gone.
  std::vector<ray::ObjectRef<int>> pids;
  for (int i = 0; i < 200; ++i) pids.push_back(ray::Task(Pid).Remote());
  for (const auto& pid : ray::Get(pids)) lumen::testing::RecordWorkerPid(*pid);
}

TEST_CASE("submission blocks at the in-flight bound instead of queueing without limit") {
  std::atomic<bool> done{false};
  std::atomic<int64_t> peak{0};
  std::thread sampler([&] {
    while (!done) {
      int64_t now = lumen::worker::GetRuntimeStats().tasks_in_flight;
      if (now > peak) peak = now;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  {
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < 100000; ++i) refs.push_back(ray::Task(AddOne).Remote(i));
    CHECK(*ray::Get(refs.back()) == 100000);
    ray::Get(refs);
  }
  done = true;
  sampler.join();
  INFO("peak tasks in flight: " << peak);
  // The bound (CoreWorker::kMaxTasksInFlight) is 20,000; one submitter.
  CHECK(peak <= 20000);
  CHECK(peak > 0);
}

TEST_CASE("results and errors of tasks whose references are gone are not kept") {
  auto before = lumen::worker::GetRuntimeStats();
  for (int i = 0; i < 20000; ++i) (void)ray::Task(AddOne).Remote(i);
  for (int i = 0; i < 2000; ++i) (void)ray::Task(Throw).Remote(i);
  REQUIRE(Drained(120000));
  auto after = lumen::worker::GetRuntimeStats();
  CHECK(after.objects_in_store == before.objects_in_store);
  CHECK(after.references == before.references);
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 2); }
