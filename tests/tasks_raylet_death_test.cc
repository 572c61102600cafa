// What a driver's tasks say when its raylet has died (issue 9, item 5): on
// a real 1-CPU local cluster whose raylet is SIGKILLed, a task submitted
// afterwards fails with an error that says the raylet is unreachable and
// what to do, not that it "refused" anything.
#include <ray/api.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "tests/harness.h"
#include "tests/tasks_harness.h"
#include "worker/runtime.h"

namespace {

constexpr int kTimeoutMs = 60000;  // Only a failing test waits this long.

int Pid() { return ::getpid(); }

// The pid of the private cluster's raylet, from <session>/pids.
pid_t RayletPid() {
  std::ifstream in(lumen::worker::GetRuntimeStats().session_dir + "/pids");
  std::string name;
  pid_t pid = 0;
  while (in >> name >> pid) {
    if (name.find("raylet") != std::string::npos) return pid;
  }
  return 0;
}

// Processes whose environment names this cluster's session dir: the
// raylet's workers, which a SIGKILLed raylet cannot stop.
std::vector<pid_t> WorkersOfSession(const std::string& session_dir) {
  const std::string entry = "LUMEN_SESSION_DIR=" + session_dir;
  std::vector<pid_t> pids;
  std::error_code ec;
  for (const auto& proc : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = proc.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    if (std::stoi(name) == ::getpid()) continue;
    std::string environ = lumen::testing::ReadFile(proc.path().string() + "/environ");
    size_t at = environ.find(entry);
    if (at == std::string::npos) continue;
    size_t end = at + entry.size();
    if (end == environ.size() || environ[end] == '\0') pids.push_back(std::stoi(name));
  }
  return pids;
}

}  // namespace

RAY_REMOTE(Pid);

TEST_CASE("a task submitted after the raylet died says the raylet is unreachable") {
  // A worker ran a task: the raylet was serving.
  int worker = *ray::Get(ray::Task(Pid).Remote(), kTimeoutMs);
  REQUIRE(worker > 0);
  lumen::testing::RecordWorkerPid(worker);
  const std::string session_dir = lumen::worker::GetRuntimeStats().session_dir;
  pid_t raylet = RayletPid();
  REQUIRE(raylet > 0);
  REQUIRE(::kill(raylet, SIGKILL) == 0);
  REQUIRE(lumen::testing::WaitUntil([&] { return !lumen::testing::IsRunning(raylet); }, kTimeoutMs));

  std::string message =
      lumen::testing::ErrorMessageOf([] { ray::Get(ray::Task(Pid).Remote(), kTimeoutMs); });
  INFO(message);
  CHECK(message.find("unreachable") != std::string::npos);
  CHECK(message.find(lumen::worker::LocalRayletAddress()) != std::string::npos);
  CHECK(message.find("lumen start") != std::string::npos);
  CHECK(message.find("raylet refused") == std::string::npos);  // (gRPC's detail may say "Connection refused")

  // A SIGKILLed raylet stops none of its workers: this test ends whatever is left.
  for (pid_t pid : WorkersOfSession(session_dir)) {
    lumen::testing::RecordWorkerPid(pid);
    ::kill(pid, SIGKILL);
  }
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 1); }
