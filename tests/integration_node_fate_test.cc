// A node's raylet and plasma store share one fate (docs/plasma.md, "Fate of
// a node"): a store that dies takes its raylet with it, so that the GCS
// marks the node dead with the cause and `lumen start --block` exits
// non-zero (systemd then restarts the node); a raylet that dies takes its
// store with it, so nothing is left behind.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/harness.h"

namespace lumen::testing {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct TwoNodes {
  explicit TwoNodes(Sandbox& sandbox) {
    port = std::to_string(Sandbox::FreePort());
    CommandResult head = sandbox.Lumen({"start", "--head", "--port", port, "--num-cpus", "1",
                                        "--object-store-memory", "33554432"});
    INFO(head.Describe());
    REQUIRE(head.exit_code == 0);
    CommandResult second = sandbox.Lumen({"start", "--address", "127.0.0.1:" + port, "--num-cpus",
                                          "1", "--object-store-memory", "33554432"});
    INFO(second.Describe());
    REQUIRE(second.exit_code == 0);
    node = sandbox.SessionPids(Sandbox::SessionDirFromOutput(second.out));
    REQUIRE(node["raylet"] > 0);
    REQUIRE(node["plasma"] > 0);
    REQUIRE(WaitUntil([&] { return Has(sandbox.Lumen({"status"}).out, "Nodes: 2 alive"); },
                      30000, 200));
  }
  std::string port;
  std::map<std::string, pid_t> node;  // Of the second node.
};

TEST_CASE("a dead object store takes its node down, marked dead with the cause",
          "[integration]") {
  Sandbox sandbox;
  TwoNodes nodes(sandbox);
  REQUIRE(::kill(nodes.node["plasma"], SIGKILL) == 0);
  CHECK(WaitUntil([&] { return !IsRunning(nodes.node["raylet"]); }, 20000));
  CommandResult status;
  const bool marked = WaitUntil(
      [&] {
        status = sandbox.Lumen({"status"});
        return Has(status.out, "Nodes: 1 alive, 1 dead");
      },
      30000, 250);
  INFO(status.Describe());
  REQUIRE(marked);
  CHECK(Has(status.out, "object store"));
  CHECK(Has(status.out, "died"));
}

TEST_CASE("a dead raylet takes its object store with it", "[integration]") {
  Sandbox sandbox;
  TwoNodes nodes(sandbox);
  REQUIRE(::kill(nodes.node["raylet"], SIGKILL) == 0);
  CHECK(WaitUntil([&] { return !IsRunning(nodes.node["plasma"]); }, 20000));
}

TEST_CASE("lumen start --block exits non-zero when the node's store dies", "[integration]") {
  Sandbox sandbox;
  const std::string port = std::to_string(Sandbox::FreePort());
  const pid_t block = sandbox.Spawn("block", {Sandbox::BinDir() + "/lumen", "start", "--head",
                                              "--port", port, "--num-cpus", "1",
                                              "--object-store-memory", "33554432", "--block"});
  REQUIRE(block > 0);
  const std::string log = sandbox.root() + "/block.out";
  std::map<std::string, pid_t> pids;
  REQUIRE(WaitUntil(
      [&] {
        const std::string out = ReadFile(log);
        if (!Has(out, "Session dir:") || !Has(out, "--block")) return false;
        pids = sandbox.SessionPids(Sandbox::SessionDirFromOutput(out));
        return pids["plasma"] > 0 && pids["raylet"] > 0;
      },
      60000, 100));
  REQUIRE(::kill(pids["plasma"], SIGKILL) == 0);
  const std::optional<int> code = sandbox.WaitForChild(block, 30000);
  INFO(ReadFile(log));
  REQUIRE(code.has_value());
  CHECK(*code != 0);
  CHECK(WaitUntil([&] { return !IsRunning(pids["raylet"]) && !IsRunning(pids["gcs"]); }, 20000));
}

}  // namespace
}  // namespace lumen::testing
