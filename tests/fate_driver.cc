// A driver for integration_fate_test: starts (or joins, with RAY_ADDRESS)
// a cluster, prints what the test needs to watch, then ends the way the
// mode says. Lines printed: "session_dir=...", "daemon_pid=N" (private
// cluster only), "worker_pid=N" (each worker that ran a task), "ready".
// Modes:
//   busy       submit tiny tasks forever (signals arrive while submitting)
//   get        block in ray::Get of a task that sleeps for a minute
//   return     return from main without ray::Shutdown
//   throw      let an exception escape main
//   shutdown   ray::Shutdown, then print the stats and exit 0
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "worker/runtime.h"

namespace {

int Pid() { return ::getpid(); }
int AddOne(int x) { return x + 1; }
int SleepLong() {
  std::this_thread::sleep_for(std::chrono::seconds(60));
  return 0;
}

}  // namespace

RAY_REMOTE(Pid, AddOne, SleepLong);

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "busy";
  ray::RayConfig config;
  // Sizes the private cluster only: ray::Init refuses it when joining one.
  const char* address = std::getenv("RAY_ADDRESS");
  if (!address || !*address) config.num_cpus = 2;
  ray::Init(config, argc, argv);
  auto stats = lumen::worker::GetRuntimeStats();
  std::printf("session_dir=%s\n", stats.session_dir.c_str());
  for (int pid : stats.daemon_pids) std::printf("daemon_pid=%d\n", pid);
  // Run enough tasks at once that both CPUs' workers show up.
  std::set<int> workers;
  std::vector<ray::ObjectRef<int>> pids;
  for (int i = 0; i < 200; ++i) pids.push_back(ray::Task(Pid).Remote());
  for (const auto& p : ray::Get(pids)) workers.insert(*p);
  for (int pid : workers) std::printf("worker_pid=%d\n", pid);
  std::fflush(stdout);
  if (mode == "get") {
    auto slow = ray::Task(SleepLong).Remote();
    std::printf("ready\n");
    std::fflush(stdout);
    ray::Get(slow);
    return 3;  // Not reached: the test interrupts the Get.
  }
  if (mode == "return") {
    std::printf("ready\n");
    return 0;
  }
  if (mode == "throw") {
    std::printf("ready\n");
    std::fflush(stdout);
    throw std::runtime_error("the driver failed");
  }
  if (mode == "shutdown") {
    ray::Shutdown();
    std::printf("ready\n");
    return 0;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  for (int round = 0;; ++round) {
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(100000);
    for (int i = 0; i < 100000; ++i) refs.push_back(ray::Task(AddOne).Remote(i));
    if (round % 2 == 1) ray::Get(refs);
  }
}
