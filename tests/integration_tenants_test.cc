// Jobs of different drivers are never mixed. A head without Redis runs
// driver A (tenant_driver_a) in a loop; its GCS is SIGKILLed and started
// again with its original command line, so the new GCS's job table is
// empty. Driver B (tenant_driver_b, another binary) then joins: it must get
// its own job and its own workers (its answer, not A's), and A must go on
// running its tasks, before and after B exits.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "tests/harness.h"

namespace lumen::testing {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A 2-CPU head, and driver A (tenant_driver_a in `mode`, until stop_file
// exists) running on it.
struct HeadWithDriverA {
  HeadWithDriverA(Sandbox& sandbox, const std::string& mode) {
    const std::string port = std::to_string(Sandbox::FreePort());
    head = sandbox.Lumen({"start", "--head", "--port", port, "--num-cpus", "2",
                          "--object-store-memory", "33554432"});
    INFO(head.Describe());
    REQUIRE(head.exit_code == 0);
    env = {{"RAY_ADDRESS", "127.0.0.1:" + port}};
    stop_file = sandbox.root() + "/stop-a";
    a = sandbox.Spawn("driver-a", {Sandbox::BinDir() + "/tenant_driver_a", mode, stop_file}, env);
    REQUIRE(a > 0);
    a_log = sandbox.root() + "/driver-a.out";
    REQUIRE(WaitUntil([&] { return Has(ReadFile(a_log), "ready\n"); }, 60000));
  }
  CommandResult head;
  std::map<std::string, std::string> env;  // For drivers joining this head.
  std::string stop_file;
  pid_t a = -1;
  std::string a_log;
};

TEST_CASE("a GCS restarted without Redis never gives a running job's id to another driver",
          "[integration]") {
  Sandbox sandbox;
  HeadWithDriverA cluster(sandbox, "loop");
  const CommandResult& head = cluster.head;
  const auto& env = cluster.env;
  const std::string& stop_file = cluster.stop_file;
  const pid_t a = cluster.a;
  const std::string& a_log = cluster.a_log;

  const std::string session = Sandbox::SessionDirFromOutput(head.out);
  const pid_t old_gcs = sandbox.SessionPids(session)["gcs"];
  const std::vector<std::string> gcs_argv = CommandLineOf(old_gcs);
  REQUIRE(gcs_argv.size() > 1);
  REQUIRE(::kill(old_gcs, SIGKILL) == 0);
  REQUIRE(WaitUntil([&] { return !IsRunning(old_gcs); }, 10000));
  const std::string token = ReadFile(sandbox.home() + "/.lumen/token");
  const pid_t new_gcs = sandbox.Spawn("gcs-restarted", gcs_argv,
                                      {{"LUMEN_TOKEN", token.substr(0, token.find('\n'))}});
  REQUIRE(new_gcs > 0);
  // The new GCS knows the node again once the raylet has registered again.
  REQUIRE(WaitUntil(
      [&] {
        CommandResult status = sandbox.Lumen({"status"}, {}, 20000);
        return status.exit_code == 0 && Has(status.out, "Nodes: 1 alive");
      },
      60000, 250));

  CommandResult b =
      sandbox.Run({Sandbox::BinDir() + "/tenant_driver_b", "once"}, env, 120000);
  INFO("driver B: " << b.Describe() << "\ndriver A: " << ReadFile(a_log) << "\nraylet log: "
                    << ReadFile(session + "/logs/raylet.out") << "\nnew gcs: "
                    << ReadFile(sandbox.root() + "/gcs-restarted.out"));
  CHECK(b.exit_code == 0);
  CHECK(Has(b.out, "answer=1\n"));  // Its own function, not A's (1001).

  // A kept its job and its workers through B's start and exit.
  std::ofstream(stop_file) << "stop\n";
  CHECK(sandbox.WaitForChild(a, 60000) == std::optional<int>(0));
  CHECK(Has(ReadFile(a_log), "done count="));
  CHECK_FALSE(Has(ReadFile(a_log), "WRONG"));
  CHECK_FALSE(Has(ReadFile(a_log), "error:"));
}

TEST_CASE("a job that keeps every CPU busy does not starve another job", "[integration]") {
  // Driver A keeps 64 tasks of 50 ms in flight on a 2-CPU node; driver B's
  // two tasks must run while A goes on (before, they ran only after A
  // exited: A never returned a lease and the raylet served first come,
  // first served). Not a timed check: B only has to finish before A stops.
  Sandbox sandbox;
  HeadWithDriverA cluster(sandbox, "busy");
  const auto& env = cluster.env;
  const std::string& stop_file = cluster.stop_file;
  const pid_t a = cluster.a;
  const std::string& a_log = cluster.a_log;

  CommandResult b = sandbox.Run({Sandbox::BinDir() + "/tenant_driver_b", "pair"}, env, 90000);
  const bool a_still_running = IsRunning(a);
  std::ofstream(stop_file) << "stop\n";
  INFO("driver B: " << b.Describe() << "\ndriver A: " << ReadFile(a_log));
  CHECK(b.exit_code == 0);
  CHECK(Has(b.out, "pair_ms="));
  CHECK(a_still_running);
  CHECK(sandbox.WaitForChild(a, 60000) == std::optional<int>(0));
  CHECK(Has(ReadFile(a_log), "done count="));
  WARN("driver B's two 200 ms tasks beside a busy driver A: " << b.out);
}

}  // namespace
}  // namespace lumen::testing
