// Object transfer between nodes (docs/objects.md, "Between nodes"), on a
// head (A) and nodes B (127.0.0.2, resource "b") and C (127.0.0.3, "c")
// started on this machine by LocalCluster: a 200 MiB object made on B is
// read by a task on C and by the driver on A with identical bytes; one
// object needed by 5 tasks on C is transferred to C once (counted from C's
// raylet log); objects spilled on their node are restored there and sent;
// a pull from a node that died fails with a clear error.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "tests/cluster_harness.h"

namespace lumen::testing {
namespace {

constexpr int kDriverTimeoutMs = 120000;

std::string Driver() { return Sandbox::BinDir() + "/transfer_driver"; }

void StartThreeNodes(LocalCluster& cluster, const std::string& b_store = "1000000000") {
  auto with = [](std::vector<std::string> args, const std::string& store = "1000000000") {
    args.insert(args.end(), {"--object-store-memory", store});
    return args;
  };
  const bool started = cluster.StartHead(with({"--num-cpus", "1"})) &&
                       cluster.AddNode("127.0.0.2", with({"--num-cpus", "1", "--resources", R"({"b": 1})"}, b_store)) &&
                       cluster.AddNode("127.0.0.3", with({"--num-cpus", "5", "--resources", R"({"c": 1})"}));
  INFO(cluster.error());
  REQUIRE(started);
  REQUIRE(cluster.WaitForAlive(3));
}

// Lines of node `index`'s raylet log that record a finished pull.
int PullsLogged(const LocalCluster& cluster, int index) {
  std::ifstream log(cluster.nodes()[index].session_dir + "/logs/raylet.out");
  int count = 0;
  for (std::string line; std::getline(log, line);) count += line.find("pulled object ") != std::string::npos;
  return count;
}

TEST_CASE("a 200 MiB object made on node B is read on node C and by the driver on A, intact",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  CommandResult run = sandbox.Run({Driver(), "cross", "200"}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  const auto expect = ValuesOf(run.out, "expect");
  REQUIRE(expect.size() == 1);
  CHECK(ValuesOf(run.out, "c_sum") == expect);
  CHECK(ValuesOf(run.out, "driver_sum") == expect);
  CHECK(ValuesOf(run.out, "c_node") == std::vector<std::string>{cluster.nodes()[2].session_dir});
  CHECK(PullsLogged(cluster, 2) == 1);  // C pulled it, from B.
  CHECK(PullsLogged(cluster, 0) == 1);  // The head too, for the driver.
  CHECK(PullsLogged(cluster, 1) == 0);  // B made it.
}

TEST_CASE("one object needed by 5 tasks on the same node is transferred to it once", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  CommandResult run = sandbox.Run({Driver(), "five", "64"}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  const auto sums = ValuesOf(run.out, "five_sum");
  REQUIRE(sums.size() == 5);
  for (const auto& s : sums) CHECK(s == sums[0]);
  CHECK(PullsLogged(cluster, 2) == 1);
}

TEST_CASE("objects spilled on the node that holds them are restored there and sent", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster, /*b_store=*/std::to_string(100 << 20));  // Two 40 MiB objects fit, not three.
  CommandResult run = sandbox.Run({Driver(), "spilled", "40"}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  const auto expect = ValuesOf(run.out, "spilled_expect");
  REQUIRE(expect.size() == 3);
  CHECK(expect[0] != expect[1]);
  CHECK(ValuesOf(run.out, "spilled_c_sum") == expect);
  CHECK(PullsLogged(cluster, 2) == 3);
}

TEST_CASE("a pull from a node that died fails with a clear error, not a hang", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const pid_t driver = sandbox.Spawn("dead", {Driver(), "dead", "16"}, cluster.DriverEnv());
  REQUIRE(driver > 0);
  const std::string log = sandbox.root() + "/dead.out";
  REQUIRE(WaitUntil([&] { return !ValuesOf(ReadFile(log), "ready").empty(); }, kDriverTimeoutMs, 50));
  for (const char* daemon : {"raylet", "plasma"}) {
    REQUIRE(::kill(cluster.nodes()[1].pids.at(daemon), SIGKILL) == 0);
  }
  std::ofstream(sandbox.root() + "/go") << "go\n";
  const std::optional<int> code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  const std::string out = ReadFile(log);
  INFO(out << ReadFile(sandbox.root() + "/dead.err"));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(ValuesOf(out, "got").empty());
  const auto error = ValuesOf(out, "error");
  REQUIRE(error.size() == 1);
  CHECK(error[0].find("is lost: cannot pull object ") != std::string::npos);
  CHECK(error[0].find("node ") != std::string::npos);
  WARN("the error: " << error[0]);
}

}  // namespace
}  // namespace lumen::testing
