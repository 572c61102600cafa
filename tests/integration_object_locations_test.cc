// The owner knows every copy of its objects (docs/objects.md, "Between
// nodes"), on a head A and nodes B (127.0.0.2, resource "b") and C
// (127.0.0.3, resource "c"). A task on B returns a 20 MiB value to the
// driver on A; a task on C reads it, so C's store holds a copy, which the
// worker that pulled it reports to the owner.
//   - B's raylet and store are SIGKILLed: the driver still reads the value,
//     identical, from C's copy, and the task (max_retries 0: it could not
//     be rebuilt) ran once;
//   - the same, but a task on A (resource "a"), a borrower, reads it first:
//     its owner names C's copy when the borrower cannot pull from B;
//   - the driver drops its ref: the stores of B (the primary) and C (the
//     pulled copy) no longer hold the object (`lumen status` counts).
// Every wait is bounded.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "tests/cluster_harness.h"

namespace lumen::testing {
namespace {

constexpr int kDriverTimeoutMs = 30000;

void StartThreeNodes(LocalCluster& cluster) {
  auto with = [](std::vector<std::string> args) {
    args.insert(args.end(), {"--object-store-memory", "200000000"});
    return args;
  };
  const bool started =
      cluster.StartHead(with({"--num-cpus", "1", "--resources", R"({"a": 1})"})) &&
      cluster.AddNode("127.0.0.2", with({"--num-cpus", "1", "--resources", R"({"b": 1})"})) &&
      cluster.AddNode("127.0.0.3", with({"--num-cpus", "1", "--resources", R"({"c": 1})"}));
  INFO(cluster.error());
  REQUIRE(started);
  REQUIRE(cluster.WaitForAlive(3));
}

// The objects in the store of the node at `ip`, from `lumen status`
// ("(<n> objects)" in the node's block); -1 when not shown.
long StoreObjects(LocalCluster& cluster, const std::string& ip) {
  const std::string out = cluster.Cli({"status", "--address", cluster.address()}).out;
  size_t at = out.find("  " + ip + ":");
  if (at == std::string::npos) return -1;
  const size_t next = out.find("\n  node ", at);
  const size_t store = out.find("object store:", at);
  if (store == std::string::npos || (next != std::string::npos && store > next)) return -1;
  const size_t open = out.find('(', store);
  return open == std::string::npos ? -1 : std::atol(out.c_str() + open + 1);
}

// Starts the driver in `mode`; returns its pid once it printed `key`=1.
pid_t StartDriver(Sandbox& sandbox, LocalCluster& cluster, const std::string& mode, const std::string& key) {
  const pid_t driver = sandbox.Spawn(
      "locations", {Sandbox::BinDir() + "/locations_driver", mode, "20", sandbox.root() + "/runs"},
      cluster.DriverEnv());
  REQUIRE(driver > 0);
  if (!WaitUntil([&] { return !ValuesOf(ReadFile(sandbox.root() + "/locations.out"), key).empty(); },
                 kDriverTimeoutMs, 50)) {
    FAIL("the driver did not print " << key << ":\n"
                                     << ReadFile(sandbox.root() + "/locations.out")
                                     << ReadFile(sandbox.root() + "/locations.err"));
  }
  return driver;
}

// Runs the driver in `mode` (copy or borrow), SIGKILLs B once it has read
// the object on C, and checks the driver read it again, identical, without
// a re-run; returns the driver's output.
std::string ReadAfterSourceDies(const std::string& mode) {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const pid_t driver = StartDriver(sandbox, cluster, mode, "ready");
  for (const char* daemon : {"raylet", "plasma"}) {
    REQUIRE(::kill(cluster.nodes()[1].pids.at(daemon), SIGKILL) == 0);
  }
  std::ofstream(sandbox.root() + "/go") << "go\n";
  const std::optional<int> code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  const std::string out = ReadFile(sandbox.root() + "/locations.out");
  INFO(out << ReadFile(sandbox.root() + "/locations.err"));
  REQUIRE(code.has_value());  // No hang.
  CHECK(*code == 0);
  const auto expect = ValuesOf(out, "expect");
  REQUIRE(expect.size() == 1);
  CHECK(ValuesOf(out, "sum_c") == expect);
  CHECK(ValuesOf(out, "error").empty());
  CHECK(ValuesOf(out, "sum") == expect);  // Identical bytes, from C's copy,
  const std::string runs = ReadFile(sandbox.root() + "/runs");
  INFO(runs);
  CHECK(runs == cluster.nodes()[1].session_dir + "\n");  // without a re-run.
  return out;
}

TEST_CASE("a copy pulled to another node serves when the node that made the object dies",
          "[integration]") {
  ReadAfterSourceDies("copy");
}

TEST_CASE("a borrower that cannot pull from a dead node is sent to a copy by the owner",
          "[integration]") {
  const std::string out = ReadAfterSourceDies("borrow");
  INFO(out);
  CHECK(ValuesOf(out, "arg_sum") == ValuesOf(out, "expect"));
}

TEST_CASE("an owner's free deletes the copies on other nodes", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const pid_t driver = StartDriver(sandbox, cluster, "free", "held");
  const std::string b = cluster.nodes()[1].ip;
  const std::string c = cluster.nodes()[2].ip;
  // Held: the primary on B and the pulled copy on C (the view the GCS
  // shows is refreshed every few hundred ms).
  CHECK(WaitUntil([&] { return StoreObjects(cluster, b) >= 1 && StoreObjects(cluster, c) >= 1; },
                  20000, 200));
  std::ofstream(sandbox.root() + "/go") << "go\n";
  REQUIRE(WaitUntil([&] { return !ValuesOf(ReadFile(sandbox.root() + "/locations.out"), "dropped").empty(); },
                    kDriverTimeoutMs, 50));
  // Dropped, while the driver still runs: both are deleted.
  const bool freed = WaitUntil([&] { return StoreObjects(cluster, b) == 0 && StoreObjects(cluster, c) == 0; },
                               20000, 200);
  INFO("B holds " << StoreObjects(cluster, b) << ", C holds " << StoreObjects(cluster, c) << " objects");
  CHECK(freed);
  std::ofstream(sandbox.root() + "/go2") << "go\n";
  const std::optional<int> code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  INFO(ReadFile(sandbox.root() + "/locations.out") << ReadFile(sandbox.root() + "/locations.err"));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const std::string out = ReadFile(sandbox.root() + "/locations.out");
  CHECK(ValuesOf(out, "sum_c") == ValuesOf(out, "expect"));
}

}  // namespace
}  // namespace lumen::testing
