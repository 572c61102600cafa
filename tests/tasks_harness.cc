#define CATCH_CONFIG_RUNNER
#include "tests/tasks_harness.h"

#include <ray/api.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>
#include <set>
#include <thread>

#include "worker/runtime.h"

namespace lumen::testing {
namespace {
std::mutex g_mu;
std::set<pid_t> g_pids;

bool AllGone(const std::set<pid_t>& pids, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    bool any = false;
    for (pid_t p : pids) any |= ::kill(p, 0) == 0;
    if (!any) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}
}  // namespace

void RecordWorkerPid(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_pids.insert(pid);
}

int RunTaskTests(int argc, char** argv, int num_cpus, int num_gpus) {
  if (worker::IsWorkerProcess()) worker::RunWorkerProcess();
  char dir[] = "/tmp/lumen-tasks-test-XXXXXX";
  if (!::mkdtemp(dir)) return 2;
  ::setenv("LUMEN_TEMP_DIR", dir, 1);
  ::unsetenv("RAY_ADDRESS");
  ray::RayConfig config;
  config.num_cpus = num_cpus;
  config.num_gpus = num_gpus;
  config.object_store_memory = 512LL * 1024 * 1024;
  ray::Init(config);
  int failed = Catch::Session().run(argc, argv);
  ray::Shutdown();
  std::set<pid_t> pids;
  {
    std::lock_guard<std::mutex> lock(g_mu);
    pids = g_pids;
  }
  if (!AllGone(pids, 10000)) {
    std::fprintf(stderr, "FAILED: worker processes left behind after Shutdown\n");
    failed += 1;
  } else {
    std::printf("%zu worker pids seen by the tests; none left after Shutdown\n", pids.size());
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return failed;
}

}  // namespace lumen::testing
