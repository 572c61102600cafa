// Scheduling across nodes and node failure (docs/scheduling.md), on a head
// and two worker nodes started on this machine by LocalCluster, each worker
// node on its own loopback address: tasks pinned by a custom resource or by
// node:<ip> run there; CPU-bound tasks use every node; a worker node's
// raylet killed mid-run: its tasks finish elsewhere and its actor restarts
// on another node; a task no node can run waits until a node that can joins.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "tests/cluster_harness.h"

namespace lumen::testing {
namespace {

constexpr int kDriverTimeoutMs = 90000;

std::string Driver() { return Sandbox::BinDir() + "/multinode_driver"; }

// A head and nodes B (127.0.0.2) and C (127.0.0.3, with `c_resources`).
void StartThreeNodes(LocalCluster& cluster, const std::string& c_resources,
                     const std::string& b_resources = "{}") {
  const bool started =
      cluster.StartHead({"--num-cpus", "1"}) &&
      cluster.AddNode("127.0.0.2", {"--num-cpus", "2", "--resources", b_resources}) &&
      cluster.AddNode("127.0.0.3", {"--num-cpus", "2", "--resources", c_resources});
  INFO(cluster.error());
  REQUIRE(started);
  REQUIRE(cluster.WaitForAlive(3));
}

TEST_CASE("tasks pinned by a custom resource or node:<ip> run on the node that has it",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster, R"({"gadget": 1})");
  CommandResult run = sandbox.Run({Driver(), "pinned"}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  const std::string c = cluster.nodes()[2].session_dir;
  const auto gadget = ValuesOf(run.out, "gadget_node");
  const auto by_ip = ValuesOf(run.out, "ip_node");
  REQUIRE(gadget.size() == 6);
  REQUIRE(by_ip.size() == 4);
  for (const auto& node : gadget) CHECK(node == c);
  for (const auto& node : by_ip) CHECK(node == c);
}

TEST_CASE("100 CPU-bound tasks on a 3-node cluster run on all 3 nodes", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster, "{}");
  CommandResult run = sandbox.Run({Driver(), "spread", "100"}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  std::map<int, int> per_node;
  for (const auto& node : ValuesOf(run.out, "node")) ++per_node[cluster.NodeOf(node)];
  INFO("tasks per node: head " << per_node[0] << ", B " << per_node[1] << ", C " << per_node[2]);
  CHECK(per_node.count(-1) == 0);
  CHECK(per_node[0] + per_node[1] + per_node[2] == 100);
  CHECK(per_node[0] > 0);
  CHECK(per_node[1] > 0);
  CHECK(per_node[2] > 0);
}

TEST_CASE("a worker node's raylet killed mid-run: its tasks finish elsewhere, its actor restarts "
          "on another node",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  // "slot" on B and C only: the actor lives on a worker node.
  StartThreeNodes(cluster, R"({"slot": 1})", R"({"slot": 1})");
  const pid_t driver = sandbox.Spawn("survive", {Driver(), "survive"}, cluster.DriverEnv());
  REQUIRE(driver > 0);
  const std::string log = sandbox.root() + "/survive.out";
  std::string actor_node;
  REQUIRE(WaitUntil(
      [&] {
        const std::string out = ReadFile(log);
        const auto actor = ValuesOf(out, "actor_node");
        if (!actor.empty()) actor_node = actor[0];
        return !actor.empty() && !ValuesOf(out, "ready").empty();
      },
      kDriverTimeoutMs, 50));
  const int victim = cluster.NodeOf(actor_node);
  INFO(ReadFile(log));
  REQUIRE((victim == 1 || victim == 2));
  // Kill it while tasks run there.
  const std::string starts = sandbox.root() + "/starts";
  const std::string victim_dir = cluster.nodes()[victim].session_dir;
  auto on_victim = [&](const std::string& what) {
    const auto all = ValuesOf(ReadFile(starts), what);
    return std::count(all.begin(), all.end(), victim_dir);
  };
  auto started_on_victim = [&] { return on_victim("start"); };
  // Killed while a task runs there (started, its 500 ms sleep not over):
  // waiting only for a start raced the kill against that task's end.
  REQUIRE(WaitUntil([&] { return started_on_victim() > on_victim("end"); }, kDriverTimeoutMs, 20));
  REQUIRE(::kill(cluster.nodes()[victim].pids.at("raylet"), SIGKILL) == 0);
  const std::optional<int> code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  const std::string out = ReadFile(log);
  INFO(out << ReadFile(sandbox.root() + "/survive.err"));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(ValuesOf(out, "tasks_ok") == std::vector<std::string>{"60"});
  CHECK(ValuesOf(out, "task_error").empty());
  const auto after = ValuesOf(out, "actor_after");
  REQUIRE(after.size() == 1);
  const int restarted_on = cluster.NodeOf(after[0]);
  CHECK(restarted_on != victim);
  CHECK((restarted_on == 1 || restarted_on == 2));
  // The last tasks (those left after the kill) all ran on the survivors.
  const auto nodes = ValuesOf(out, "task_node");
  REQUIRE(nodes.size() == 60);
  CHECK(cluster.NodeOf(nodes.back()) != victim);
  // Some tasks were cut short on the victim and ran again elsewhere.
  const auto finished_on_victim = std::count(nodes.begin(), nodes.end(), victim_dir);
  CHECK(started_on_victim() > finished_on_victim);
}

TEST_CASE("node affinity (hard, soft) for tasks and actors, and SPREAD", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster, "{}");
  CommandResult run = sandbox.Run({Driver(), "affinity"}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  const std::string b = cluster.nodes()[1].session_dir;
  const auto pinned = ValuesOf(run.out, "affinity_node");
  REQUIRE(pinned.size() == 6);
  for (const auto& node : pinned) CHECK(node == b);  // Not spread over the head and C.
  CHECK(ValuesOf(run.out, "affinity_actor") == std::vector<std::string>{b});
  const auto soft = ValuesOf(run.out, "soft_node");
  REQUIRE(soft.size() == 1);
  CHECK(cluster.NodeOf(soft[0]) >= 0);
  const auto hard = ValuesOf(run.out, "hard_error");
  REQUIRE(hard.size() == 1);
  CHECK(hard[0].find("is not an alive node of the cluster") != std::string::npos);
  const auto spread = ValuesOf(run.out, "spread_node");
  REQUIRE(spread.size() == 6);
  std::set<int> used;
  for (const auto& node : spread) used.insert(cluster.NodeOf(node));
  CHECK(used.count(-1) == 0);
  CHECK(used.size() >= 2);
}

TEST_CASE("a task no node can run waits, and runs once a node that can joins", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  const bool started = cluster.StartHead({"--num-cpus", "1"});
  INFO(cluster.error());
  REQUIRE(started);
  const pid_t driver = sandbox.Spawn("pending", {Driver(), "pending"}, cluster.DriverEnv());
  REQUIRE(driver > 0);
  const std::string log = sandbox.root() + "/pending.out";
  REQUIRE(WaitUntil([&] { return !ValuesOf(ReadFile(log), "submitted").empty(); },
                    kDriverTimeoutMs, 50));
  // Pending: the lease request waits at the head, which reports it.
  CHECK(WaitUntil(
      [&] { return sandbox.Lumen({"status"}).out.find("Pending: 1 resource") != std::string::npos; },
      30000, 200));
  CHECK(ValuesOf(ReadFile(log), "late_node").empty());
  CHECK(IsRunning(driver));
  const bool joined = cluster.AddNode("127.0.0.2", {"--num-cpus", "1", "--resources", R"({"late": 1})"});
  INFO(cluster.error());
  REQUIRE(joined);
  const std::optional<int> code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  const std::string out = ReadFile(log);
  INFO(out << ReadFile(sandbox.root() + "/pending.err"));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(ValuesOf(out, "late_node") == std::vector<std::string>{cluster.nodes()[1].session_dir});
}

}  // namespace
}  // namespace lumen::testing
