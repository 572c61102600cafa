// Fate-sharing: a private cluster started by ray::Init dies with its driver
// however the driver ends (SIGKILL, SIGTERM, SIGINT while busy submitting,
// SIGINT while blocked in ray::Get, return without Shutdown, an escaping
// exception), within 2 s, leaving nothing in /dev/shm and no sockets; a
// clean Shutdown removes the session directory. On a `lumen start`
// cluster, a driver killed with SIGKILL has its workers gone within 2 s
// and the cluster serves the next driver.
#include <signal.h>
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <set>
#include <sstream>

#include "tests/harness.h"

using lumen::testing::IsRunning;
using lumen::testing::ReadFile;
using lumen::testing::Sandbox;
using lumen::testing::WaitUntil;

namespace {

namespace fs = std::filesystem;

std::string Driver() { return Sandbox::BinDir() + "/fate_driver"; }

struct Watched {
  std::string session_dir;
  std::vector<pid_t> daemons;
  std::vector<pid_t> workers;
};

Watched Parse(const std::string& out) {
  Watched w;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto value = [&](const std::string& key) { return line.substr(key.size()); };
    if (line.rfind("session_dir=", 0) == 0) w.session_dir = value("session_dir=");
    if (line.rfind("daemon_pid=", 0) == 0) w.daemons.push_back(std::stoi(value("daemon_pid=")));
    if (line.rfind("worker_pid=", 0) == 0) w.workers.push_back(std::stoi(value("worker_pid=")));
  }
  return w;
}

std::set<std::string> PlasmaFilesInShm() {
  std::set<std::string> names;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/dev/shm", ec)) {
    std::string name = e.path().filename().string();
    if (name.rfind("lumen-plasma-", 0) == 0) names.insert(name);
  }
  return names;
}

bool AllGone(const std::vector<pid_t>& pids) {
  for (pid_t pid : pids) {
    if (IsRunning(pid)) return false;
  }
  return true;
}

// Starts fate_driver in `mode` and waits for its "ready" line.
pid_t StartDriver(Sandbox& sandbox, const std::string& name, const std::string& mode,
                  Watched* watched, const std::map<std::string, std::string>& env = {}) {
  pid_t pid = sandbox.Spawn(name, {Driver(), mode}, env);
  REQUIRE(pid > 0);
  const std::string log = sandbox.root() + "/" + name + ".out";
  bool ready = WaitUntil([&] { return ReadFile(log).find("ready\n") != std::string::npos; }, 60000);
  INFO(ReadFile(log));
  REQUIRE(ready);
  *watched = Parse(ReadFile(log));
  return pid;
}

// Everything the driver started is gone within 2 s of its end, with no
// plasma file left and no socket in the session directory.
void CheckClusterGone(const Watched& w, const std::set<std::string>& shm_before,
                      const std::string& log) {
  INFO(ReadFile(log));
  REQUIRE(w.daemons.size() == 3);
  REQUIRE_FALSE(w.workers.empty());
  std::vector<pid_t> all = w.daemons;
  all.insert(all.end(), w.workers.begin(), w.workers.end());
  auto start = std::chrono::steady_clock::now();
  bool gone = WaitUntil([&] { return AllGone(all); }, 2000, 20);
  double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  std::printf("cluster gone %.0f ms after the driver\n", ms);
  CHECK(gone);
  std::set<std::string> left;
  for (const auto& name : PlasmaFilesInShm()) {
    if (!shm_before.count(name)) left.insert(name);
  }
  CHECK(left.empty());
  std::error_code ec;
  int sockets = 0;
  for (const auto& e : fs::directory_iterator(w.session_dir + "/sockets", ec)) {
    (void)e;
    ++sockets;
  }
  CHECK(sockets == 0);
}

}  // namespace

TEST_CASE("a private cluster dies with its driver, however the driver ends", "[integration]") {
  struct Case {
    std::string mode;
    int signal;  // 0: the driver ends by itself.
  };
  auto c = GENERATE(Case{"busy", SIGKILL}, Case{"busy", SIGTERM}, Case{"busy", SIGINT},
                    Case{"get", SIGINT}, Case{"return", 0}, Case{"throw", 0});
  DYNAMIC_SECTION(c.mode << " signal " << c.signal) {
    Sandbox sandbox;
    auto shm_before = PlasmaFilesInShm();
    Watched w;
    pid_t driver = StartDriver(sandbox, "driver", c.mode, &w);
    const std::string log = sandbox.root() + "/driver.out";
    if (c.signal != 0) REQUIRE(::kill(driver, c.signal) == 0);
    std::optional<int> status = sandbox.WaitForChildStatus(driver, 10000);
    REQUIRE(status.has_value());
    CheckClusterGone(w, shm_before, log);
    if (c.signal == SIGTERM || c.signal == SIGINT) {
      // The usual status of an interrupted program, and no crash report.
      CHECK(WIFSIGNALED(*status));
      CHECK(WTERMSIG(*status) == c.signal);
      CHECK(ReadFile(log).find("*** ") == std::string::npos);
      CHECK(ReadFile(log).find("stack trace") == std::string::npos);
      // Stopped on purpose: the session directory goes too.
      CHECK_FALSE(fs::exists(w.session_dir));
    }
    if (c.signal == SIGKILL) CHECK(WTERMSIG(*status) == SIGKILL);
    if (c.mode == "return") CHECK((WIFEXITED(*status) && WEXITSTATUS(*status) == 0));
  }
}

TEST_CASE("a clean Shutdown removes the session directory; old ones are pruned", "[integration]") {
  Sandbox sandbox;
  // Twelve dead sessions from earlier runs, older than any new one.
  for (int i = 0; i < 12; ++i) {
    fs::create_directories(sandbox.temp_dir() + "/session_2000-01-01_00-00-" +
                           (i < 10 ? "0" : "") + std::to_string(i) + "_0_1/logs");
  }
  auto run = sandbox.Run({Driver(), "shutdown"}, {}, 120000);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  Watched w = Parse(run.out);
  REQUIRE_FALSE(w.session_dir.empty());
  CHECK_FALSE(fs::exists(w.session_dir));
  int sessions = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(sandbox.temp_dir(), ec)) {
    if (e.path().filename().string().rfind("session_2", 0) == 0) ++sessions;
  }
  // Pruned to the 10 newest at start, the driver's own one removed at stop.
  CHECK(sessions == 9);
  // LUMEN_KEEP_SESSION_DIR=1 keeps it, for looking at the logs.
  auto kept = sandbox.Run({Driver(), "shutdown"}, {{"LUMEN_KEEP_SESSION_DIR", "1"}}, 120000);
  INFO(kept.Describe());
  REQUIRE(kept.exit_code == 0);
  CHECK(fs::exists(Parse(kept.out).session_dir + "/logs"));
}

TEST_CASE("a driver killed on a lumen start cluster takes its workers with it", "[integration]") {
  Sandbox sandbox;
  int port = Sandbox::FreePort();
  auto start = sandbox.Lumen({"start", "--head", "--port", std::to_string(port), "--num-cpus", "2"});
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  Watched w;
  pid_t driver = StartDriver(sandbox, "joined", "busy", &w, {{"RAY_ADDRESS", address}});
  REQUIRE(w.daemons.empty());  // Joined, not private.
  REQUIRE_FALSE(w.workers.empty());
  REQUIRE(::kill(driver, SIGKILL) == 0);
  REQUIRE(sandbox.WaitForChildStatus(driver, 10000).has_value());
  auto t0 = std::chrono::steady_clock::now();
  bool gone = WaitUntil([&] { return AllGone(w.workers); }, 2000, 20);
  std::printf("workers gone %.0f ms after the driver\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  CHECK(gone);
  // The cluster keeps serving the next driver.
  auto next = sandbox.Run({Driver(), "shutdown"}, {{"RAY_ADDRESS", address}}, 120000);
  INFO(next.Describe());
  CHECK(next.exit_code == 0);
  CHECK_FALSE(Parse(next.out).workers.empty());
}
