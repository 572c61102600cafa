// Actor lifetimes on a `lumen start` cluster, with real driver processes
// (tests/actor_driver.cc): a driver that exits cleanly, or is SIGKILLed,
// takes its regular actor with it but not its detached one, which a later
// driver finds by name and kills; a GCS restarted on Redis still finds a
// detached actor by name, and its calls reach the same process.
#include <signal.h>

#include <catch2/catch.hpp>
#include <map>
#include <sstream>

#include "tests/harness.h"

namespace lumen::testing {
namespace {

constexpr int kDeadlineMs = 30000;  // Only a failing test waits this long.

std::string Driver() { return Sandbox::BinDir() + "/actor_driver"; }

std::map<std::string, int> Values(const std::string& out) {
  std::map<std::string, int> values;
  std::istringstream in(out);
  std::string line;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq != std::string::npos) values[line.substr(0, eq)] = std::atoi(line.c_str() + eq + 1);
  }
  return values;
}

struct Cluster {
  Sandbox sandbox;
  std::string address;
  std::string session;
  void Start(const std::vector<std::string>& extra = {}) {
    const std::string port = std::to_string(Sandbox::FreePort());
    std::vector<std::string> args = {"start", "--head", "--port", port, "--num-cpus", "2",
                                     "--object-store-memory", "67108864"};
    args.insert(args.end(), extra.begin(), extra.end());
    CommandResult head = sandbox.Lumen(args);
    INFO(head.Describe());
    REQUIRE(head.exit_code == 0);
    address = "127.0.0.1:" + port;
    session = Sandbox::SessionDirFromOutput(head.out);
  }
  CommandResult Run(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {Driver()};
    argv.insert(argv.end(), args.begin(), args.end());
    return sandbox.Run(argv, {{"RAY_ADDRESS", address}}, 120000);
  }
};

// A later driver finds the detached actor in the same process, kills it,
// and the process goes.
void KillFromLaterDriver(Cluster& c, int detached_pid) {
  CommandResult call = c.Run({"kill", "keeper"});
  INFO(call.Describe());
  REQUIRE(call.exit_code == 0);
  CHECK(Values(call.out)["pid"] == detached_pid);
  CHECK(call.out.find("killed; name free: yes") != std::string::npos);
  CHECK(WaitUntil([&] { return !IsRunning(detached_pid); }, kDeadlineMs));
  CHECK(c.Run({"call", "keeper"}).exit_code == 2);  // Not found any more.
}

TEST_CASE("a driver's clean exit kills its regular actor, not its detached one", "[integration]") {
  Cluster c;
  c.Start();
  CommandResult first = c.Run({"create-exit"});
  INFO(first.Describe());
  REQUIRE(first.exit_code == 0);
  auto pids = Values(first.out);
  REQUIRE(pids["regular_pid"] > 0);
  REQUIRE(pids["detached_pid"] > 0);
  CHECK(WaitUntil([&] { return !IsRunning(pids["regular_pid"]); }, kDeadlineMs));
  CHECK(IsRunning(pids["detached_pid"]));
  KillFromLaterDriver(c, pids["detached_pid"]);
}

TEST_CASE("a SIGKILLed driver's regular actor dies, its detached one lives", "[integration]") {
  Cluster c;
  c.Start();
  pid_t driver = c.sandbox.Spawn("driver", {Driver(), "create-wait"}, {{"RAY_ADDRESS", c.address}});
  REQUIRE(driver > 0);
  const std::string log = c.sandbox.root() + "/driver.out";
  bool ready = WaitUntil([&] { return ReadFile(log).find("ready\n") != std::string::npos; }, 60000);
  INFO(ReadFile(log));
  REQUIRE(ready);
  auto pids = Values(ReadFile(log));
  REQUIRE(::kill(driver, SIGKILL) == 0);
  CHECK(WaitUntil([&] { return !IsRunning(pids["regular_pid"]); }, kDeadlineMs));
  CHECK(IsRunning(pids["detached_pid"]));
  KillFromLaterDriver(c, pids["detached_pid"]);
}

TEST_CASE("a GCS restarted on Redis keeps a detached actor reachable by name", "[integration]") {
  if (FindRedisServer().empty()) {
    WARN("redis-server is not installed (scripts/install_deps.sh installs it); skipping");
    return;
  }
  Cluster c;
  const int redis_port = Sandbox::FreePort();
  REQUIRE(c.sandbox.SpawnRedis(redis_port) > 0);
  c.Start({"--redis-address", "127.0.0.1:" + std::to_string(redis_port)});
  CommandResult first = c.Run({"create-exit"});
  INFO(first.Describe());
  REQUIRE(first.exit_code == 0);
  const int detached_pid = Values(first.out)["detached_pid"];
  REQUIRE(detached_pid > 0);

  const pid_t old_gcs = c.sandbox.SessionPids(c.session)["gcs"];
  const std::vector<std::string> gcs_argv = CommandLineOf(old_gcs);
  REQUIRE(gcs_argv.size() > 1);
  REQUIRE(::kill(old_gcs, SIGKILL) == 0);
  REQUIRE(WaitUntil([&] { return !IsRunning(old_gcs); }, 10000));
  const std::string token = ReadFile(c.sandbox.home() + "/.lumen/token");
  REQUIRE(c.sandbox.Spawn("gcs-restarted", gcs_argv,
                          {{"LUMEN_TOKEN", token.substr(0, token.find('\n'))}}) > 0);

  CommandResult call;
  bool reached = WaitUntil(
      [&] {
        call = c.Run({"call", "keeper"});
        return call.exit_code == 0;
      },
      kDeadlineMs, 500);
  INFO(call.Describe() << "\ngcs log:\n" << ReadFile(c.sandbox.root() + "/gcs-restarted.out"));
  REQUIRE(reached);
  CHECK(Values(call.out)["pid"] == detached_pid);
  CHECK(IsRunning(detached_pid));
  KillFromLaterDriver(c, detached_pid);
}

}  // namespace
}  // namespace lumen::testing
