// Placement groups across nodes (docs/scheduling.md, "Placement groups"),
// on a head and two worker nodes (2 CPUs each; 127.0.0.2 and
// 127.0.0.3) started by LocalCluster: a STRICT_SPREAD group of 3 one-CPU
// bundles is CREATED with a bundle on each node (a task in each bundle
// reports its node); one of 4 bundles stays PENDING until a 4th node joins
// (each of the 3 nodes keeps 1 CPU free beside the first group's bundle);
// removing a group returns its CPU and kills the actor placed in it.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <set>

#include "tests/cluster_harness.h"

namespace lumen::testing {
namespace {

constexpr int kDriverTimeoutMs = 120000;

std::string Driver() { return Sandbox::BinDir() + "/placement_group_driver"; }

void StartThreeNodes(LocalCluster& cluster) {
  const bool started = cluster.StartHead({"--num-cpus", "2"}) &&
                       cluster.AddNode("127.0.0.2", {"--num-cpus", "2"}) &&
                       cluster.AddNode("127.0.0.3", {"--num-cpus", "2"});
  INFO(cluster.error());
  REQUIRE(started);
  REQUIRE(cluster.WaitForAlive(3));
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

TEST_CASE("STRICT_SPREAD of 3 one-CPU bundles lands on 3 nodes; one of 4 stays pending until a "
          "4th node joins",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const pid_t driver = sandbox.Spawn("spread", {Driver(), "spread"}, cluster.DriverEnv());
  REQUIRE(driver > 0);
  const std::string log = sandbox.root() + "/spread.out";
  REQUIRE(WaitUntil([&] { return !ValuesOf(ReadFile(log), "four_state").empty(); }, 90000));
  std::string out = ReadFile(log);
  INFO(out);
  CHECK(ValuesOf(out, "created") == std::vector<std::string>{"1"});
  std::set<int> nodes;
  for (const std::string& entry : ValuesOf(out, "bundle_node")) {
    nodes.insert(cluster.NodeOf(entry.substr(entry.find('|') + 1)));
  }
  CHECK(nodes == std::set<int>{0, 1, 2});
  CHECK(ValuesOf(out, "found_by_name") == std::vector<std::string>{"1"});
  CHECK(ValuesOf(out, "listed") == std::vector<std::string>{"1"});
  CHECK(ValuesOf(out, "four_ready") == std::vector<std::string>{"0"});
  CHECK(ValuesOf(out, "four_state") == std::vector<std::string>{"0"});  // PENDING

  CommandResult listed = sandbox.Lumen({"list", "placement-groups"});
  INFO(listed.Describe());
  CHECK(listed.exit_code == 0);
  CHECK(listed.out.find("CREATED") != std::string::npos);
  CHECK(listed.out.find("PENDING") != std::string::npos);

  REQUIRE(cluster.AddNode("127.0.0.4", {"--num-cpus", "1"}));
  REQUIRE(cluster.WaitForAlive(4));
  std::ofstream(sandbox.root() + "/go") << "four_go\n";
  auto code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  out = ReadFile(log);
  INFO(out);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(ValuesOf(out, "four_created") == std::vector<std::string>{"1"});
  CHECK(ValuesOf(out, "four_nodes") == std::vector<std::string>{"4"});
}

TEST_CASE("removing a placement group returns its CPU and kills the actor placed in it",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  CommandResult run = sandbox.Run({Driver(), "remove"}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  CHECK(ValuesOf(run.out, "created") == std::vector<std::string>{"1"});
  CHECK(cluster.NodeOf(ValuesOf(run.out, "actor_node").at(0)) >= 0);
  const double before = std::stod(ValuesOf(run.out, "cpu_before").at(0));
  CHECK(before == 6);
  CHECK(std::stod(ValuesOf(run.out, "cpu_reserved").at(0)) == 5);
  CHECK(ValuesOf(run.out, "actor_dead") == std::vector<std::string>{"1"});
  CHECK(ValuesOf(run.out, "state_after") == std::vector<std::string>{"2"});  // REMOVED
  CHECK(std::stod(ValuesOf(run.out, "cpu_after").at(0)) == 6);
}

TEST_CASE("a node holding a bundle dies: only that bundle is placed again, the other's actor "
          "keeps running",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  const std::vector<std::string> side = {"--num-cpus", "2", "--resources", R"({"side": 1})"};
  const bool started = cluster.StartHead({"--num-cpus", "2"}) &&
                       cluster.AddNode("127.0.0.2", side) && cluster.AddNode("127.0.0.3", side);
  INFO(cluster.error());
  REQUIRE(started);
  REQUIRE(cluster.WaitForAlive(3));
  const pid_t driver = sandbox.Spawn("survive", {Driver(), "survive"}, cluster.DriverEnv());
  REQUIRE(driver > 0);
  const std::string log = sandbox.root() + "/survive.out";
  REQUIRE(WaitUntil([&] { return ValuesOf(ReadFile(log), "actor_pid").size() == 2; }, 90000));
  std::string out = ReadFile(log);
  INFO(out);
  REQUIRE(ValuesOf(out, "created") == std::vector<std::string>{"1"});
  auto node_of = [&](const std::string& entry) { return cluster.NodeOf(entry.substr(entry.find('|') + 1)); };
  const std::vector<std::string> actor_nodes = ValuesOf(out, "actor_node");
  const int kept = node_of(actor_nodes.at(0));
  const int lost = node_of(actor_nodes.at(1));
  CHECK(std::set<int>{kept, lost} == std::set<int>{1, 2});
  for (const char* daemon : {"raylet", "plasma"}) {
    REQUIRE(::kill(cluster.nodes()[lost].pids.at(daemon), SIGKILL) == 0);
  }
  std::ofstream(sandbox.root() + "/go") << "killed\n";
  REQUIRE(WaitUntil([&] { return !ValuesOf(ReadFile(log), "survivor_pid").empty(); }, 60000));
  out = ReadFile(log);
  // RESCHEDULING (3): no other node has "side" yet.
  CHECK(ValuesOf(out, "state_lost") == std::vector<std::string>{"3"});
  // The surviving bundle's actor is the same process: not killed and restarted.
  const std::string pid0 = ValuesOf(out, "actor_pid").at(0);
  CHECK(ValuesOf(out, "survivor_pid") == std::vector<std::string>{pid0.substr(pid0.find('|') + 1)});

  REQUIRE(cluster.AddNode("127.0.0.4", side));
  std::ofstream(sandbox.root() + "/go", std::ios::app) << "joined\n";
  auto code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  out = ReadFile(log);
  INFO(out);
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(ValuesOf(out, "recreated") == std::vector<std::string>{"1"});
  CHECK(ValuesOf(out, "state_after") == std::vector<std::string>{"1"});  // CREATED
  CHECK(cluster.NodeOf(ValuesOf(out, "bundle1_node").at(0)) == 3);  // The new node.
}

}  // namespace
}  // namespace lumen::testing
