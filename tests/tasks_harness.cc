#define CATCH_CONFIG_RUNNER
#include "tests/tasks_harness.h"

#include <ray/api.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <stdexcept>
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

bool PollUntil(const std::function<bool()>& condition, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (!condition()) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}
}  // namespace

std::string MakeEventDir(const std::string& name) {
  const char* temp = std::getenv("LUMEN_TEMP_DIR");
  std::string pattern = std::string(temp ? temp : "/tmp") + "/events-" + name + "-XXXXXX";
  if (!::mkdtemp(pattern.data())) throw std::runtime_error("mkdtemp " + pattern + " failed");
  return pattern;
}

void SignalFile(const std::string& path, const std::string& content) {
  const std::string aside = path + ".partial";
  std::ofstream(aside) << content;
  std::filesystem::rename(aside, path);
}

bool WaitForFile(const std::string& path, int timeout_ms) {
  return PollUntil([&] { return std::filesystem::exists(path); }, timeout_ms);
}

bool Rendezvous(const std::string& dir, int parties, int timeout_ms) {
  std::string arrival = dir + "/arrived-XXXXXX";
  const int fd = ::mkstemp(arrival.data());
  if (fd < 0) return false;
  ::close(fd);
  return PollUntil(
      [&] {
        int arrived = 0;
        std::error_code ec;
        for (const auto& file : std::filesystem::directory_iterator(dir, ec)) {
          arrived += file.path().filename().string().rfind("arrived-", 0) == 0;
        }
        return arrived >= parties;
      },
      timeout_ms);
}

std::string ErrorMessageOf(const std::function<void()>& call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "did not throw";
}

void RecordWorkerPid(pid_t pid) {
  std::lock_guard<std::mutex> lock(g_mu);
  g_pids.insert(pid);
}

namespace {

// A run killed before its cleanup (a ctest timeout sends SIGKILL) leaves its
// directory behind; the next run removes those whose test process is gone.
const std::string kRunDirPrefix = "/tmp/lumen-tasks-test-";

void RemoveDirsOfDeadRuns() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/tmp", ec)) {
    const std::string path = entry.path().string();
    if (path.rfind(kRunDirPrefix, 0) != 0) continue;
    const std::string rest = path.substr(kRunDirPrefix.size());  // "<pid>-XXXXXX"
    size_t dash = rest.find('-');
    if (dash == std::string::npos || dash == 0) continue;
    pid_t owner = static_cast<pid_t>(std::atol(rest.substr(0, dash).c_str()));
    if (owner <= 1 || ::kill(owner, 0) == 0 || errno != ESRCH) continue;
    std::filesystem::remove_all(entry.path(), ec);
  }
}

}  // namespace

int RunTaskTests(int argc, char** argv, int num_cpus, int num_gpus) {
  if (worker::IsWorkerProcess()) worker::RunWorkerProcess();
  RemoveDirsOfDeadRuns();
  std::string pattern = kRunDirPrefix + std::to_string(::getpid()) + "-XXXXXX";
  char* dir = pattern.data();
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
