// Cross-process tests of a real cluster driven through the `lumen` CLI:
// start a head, join a node, watch `lumen status`, lose a raylet, stop
// everything, and run a node in the foreground (--block) as systemd does.
#include <signal.h>

#include <catch2/catch.hpp>

#include "tests/harness.h"

namespace lumen::testing {
namespace {

constexpr int kDeadlineMs = 60000;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The "Total" section of `lumen status`.
std::string TotalSection(const std::string& status) {
  const size_t at = status.find("Total");
  return at == std::string::npos ? "" : status.substr(at);
}

std::vector<std::string> SmallNode(std::vector<std::string> args) {
  args.insert(args.end(), {"--object-store-memory", "33554432"});
  return args;
}

TEST_CASE("head, second node, raylet death, stop", "[integration]") {
  Sandbox sandbox;
  const std::string port = std::to_string(Sandbox::FreePort());
  CommandResult head = sandbox.Lumen(SmallNode({"start", "--head", "--port", port, "--num-cpus", "4"}));
  INFO(head.Describe());
  REQUIRE(head.exit_code == 0);
  // The hints name the address the head advertises (the machine's, detected;
  // docs/operations.md); this machine also reaches its GCS on loopback.
  const std::string address = "127.0.0.1:" + port;
  const std::string advertised = Sandbox::GcsAddressFromOutput(head.out);
  REQUIRE(!advertised.empty());
  CHECK(Has(advertised, ":" + port));
  CHECK(Has(head.out, "lumen start --address=" + advertised));
  CHECK(Has(head.out, "RAY_ADDRESS=" + advertised));

  CommandResult status = sandbox.Lumen({"status"});
  INFO(status.Describe());
  REQUIRE(status.exit_code == 0);
  CHECK(Has(status.out, "Nodes: 1 alive, 0 dead"));
  CHECK(Has(TotalSection(status.out), "/4.0 CPU"));

  CommandResult worker = sandbox.Lumen(SmallNode({"start", "--address=" + address, "--num-cpus=2"}));
  INFO(worker.Describe());
  REQUIRE(worker.exit_code == 0);
  status = sandbox.Lumen({"status", "--address", address});
  REQUIRE(status.exit_code == 0);
  CHECK(Has(status.out, "Nodes: 2 alive, 0 dead"));
  CHECK(Has(TotalSection(status.out), "/6.0 CPU"));

  // Lose the second node's raylet: the GCS must notice and mark it dead.
  const std::string worker_session = Sandbox::SessionDirFromOutput(worker.out);
  const pid_t raylet = sandbox.SessionPids(worker_session)["raylet"];
  REQUIRE(raylet > 0);
  REQUIRE(::kill(raylet, SIGKILL) == 0);
  std::string last;
  const bool marked_dead = WaitUntil(
      [&] {
        last = sandbox.Lumen({"status"}).out;
        return Has(last, "Nodes: 1 alive, 1 dead");
      },
      kDeadlineMs, 250);
  INFO(last);
  CHECK(marked_dead);
  CHECK(Has(last, "DEAD"));
  CHECK(Has(TotalSection(last), "/4.0 CPU"));

  CommandResult stop = sandbox.Lumen({"stop"});
  INFO(stop.Describe());
  CHECK(stop.exit_code == 0);
  CHECK(Has(stop.out, "Stopped "));
  CHECK(WaitUntil([&] { return sandbox.LumenDaemons().empty(); }, 10000));
  CHECK(sandbox.LumenDaemons().empty());
  CHECK(sandbox.Lumen({"status"}).exit_code != 0);  // Nothing left to ask.
}

// Starts `lumen start --head --block` in the background and waits until the
// head answers `status`; returns the CLI's pid.
// A port that was free a moment ago may be taken by a test running beside
// this one before the GCS binds it: a CLI that exits early is started again
// on another port (up to three times), its output kept for the failure.
pid_t StartBlockingHead(Sandbox& sandbox) {
  std::string outputs;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::string port = std::to_string(Sandbox::FreePort());
    pid_t cli = sandbox.Spawn("block", SmallNode({Sandbox::BinDir() + "/lumen", "start", "--head",
                                                  "--port", port, "--num-cpus", "1", "--block"}));
    REQUIRE(cli > 0);
    const bool up = WaitUntil(
        [&] { return !IsRunning(cli) || sandbox.Lumen({"status"}).exit_code == 0; }, kDeadlineMs,
        200);
    if (up && IsRunning(cli)) return cli;
    outputs += ReadFile(sandbox.root() + "/block.out");
    sandbox.WaitForChild(cli, 10000);
  }
  INFO(outputs);
  FAIL("lumen start --head --block did not come up");
  return -1;
}

TEST_CASE("--block stops the node on SIGTERM and exits 0", "[integration]") {
  Sandbox sandbox;
  pid_t cli = StartBlockingHead(sandbox);
  CHECK(sandbox.LumenDaemons().size() >= 3);
  REQUIRE(::kill(cli, SIGTERM) == 0);
  std::optional<int> code = sandbox.WaitForChild(cli, 20000);
  INFO(ReadFile(sandbox.root() + "/block.out"));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(WaitUntil([&] { return sandbox.LumenDaemons().empty(); }, 10000));
}

TEST_CASE("--block exits non-zero when a daemon dies", "[integration]") {
  Sandbox sandbox;
  pid_t cli = StartBlockingHead(sandbox);
  const std::string session = sandbox.temp_dir() + "/session_latest";
  const pid_t plasma = sandbox.SessionPids(session)["plasma"];
  REQUIRE(plasma > 0);
  REQUIRE(::kill(plasma, SIGKILL) == 0);
  std::optional<int> code = sandbox.WaitForChild(cli, 20000);
  const std::string log = ReadFile(sandbox.root() + "/block.out");
  INFO(log);
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(Has(log, "exited unexpectedly"));
  CHECK(WaitUntil([&] { return sandbox.LumenDaemons().empty(); }, 10000));
}

}  // namespace
}  // namespace lumen::testing
