// Nodes in separate Linux network namespaces (issue 12, "Addresses"): a
// head and nodes B ("b"), C ("c") and D ("d"), each `lumen start` run with
// `ip netns exec` in a namespace of its own, joined by veth pairs to a
// bridge, each with its own 10.x.y.i address and nothing else but its
// loopback (tests/cluster_harness.h). D is started without
// --node-ip-address: it must find its address (the one its kernel uses
// towards the GCS) itself. Every daemon must bind and advertise
// its node's address: anything that binds or dials 127.0.0.1 across nodes
// fails here. Drivers and the CLI run in the head's namespace. Checked:
// pinned tasks run on the node that has their resource and see its address;
// 30 CPU-bound tasks use every node; a 50 MiB object made on B is read
// intact by a task on C and by the driver on the head; every TCP port of
// every daemon accepts connections at its node's address; `lumen status`
// lists the four nodes by their namespace addresses. Where namespaces cannot be
// created (not root, no CAP_NET_ADMIN, no iproute2) the test prints
// "SKIPPED: <why>" and ctest reports it skipped (SKIP_REGULAR_EXPRESSION).
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "tests/cluster_harness.h"

namespace lumen::testing {
namespace {

constexpr int kDriverTimeoutMs = 60000;

std::vector<std::string> Args(const std::string& cpus, const std::string& resource) {
  // Room for the 50 MiB object and its pull (admitted within half a store).
  std::vector<std::string> args = {"--num-cpus", cpus, "--object-store-memory", "134217728"};
  if (!resource.empty()) args.insert(args.end(), {"--resources", R"({")" + resource + R"(": 1})"});
  return args;
}

// "<LUMEN_NODE_IP>|<interface addresses>" (tests/netns_driver.cc) of a task
// that ran on `node`: its raylet's address, and no other interface.
std::string SeenOn(const ClusterNode& node) { return node.ip + "|" + node.ip; }

// False, printing "SKIPPED: <why>" (ctest's SKIP_REGULAR_EXPRESSION), where
// network namespaces cannot be created.
bool UseNamespacesOrSkip(LocalCluster& cluster) {
  if (cluster.UseNetworkNamespaces()) return true;
  std::printf("SKIPPED: network namespaces cannot be created here: %s\n", cluster.error().c_str());
  WARN("SKIPPED: network namespaces cannot be created here: " << cluster.error());
  return false;
}

TEST_CASE("nodes in separate network namespaces schedule, transfer and report their own addresses",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  if (!UseNamespacesOrSkip(cluster)) return;
  const bool started = cluster.StartHead(Args("1", "")) && cluster.AddNode("", Args("1", "b")) &&
                       cluster.AddNode("", Args("2", "c")) && cluster.AddNode(kDetectedIp, Args("1", "d"));
  INFO(cluster.error());
  REQUIRE(started);
  REQUIRE(cluster.WaitForAlive(4));
  const auto& nodes = cluster.nodes();
  std::set<std::string> ips;
  for (const auto& node : nodes) ips.insert(node.ip);
  REQUIRE(ips.size() == 4);
  CHECK(cluster.address() == nodes[0].ip + ":" + cluster.address().substr(cluster.address().find(':') + 1));

  {  // tasks pinned by a custom resource run on its node and see its address
    CommandResult run = sandbox.Run(cluster.InHead({Sandbox::BinDir() + "/netns_driver", "pinned", "b", "c", "d"}),
                                    cluster.DriverEnv(), kDriverTimeoutMs);
    INFO(run.Describe());
    REQUIRE(run.exit_code == 0);
    // The driver has no LUMEN_NODE_IP (no raylet started it); it sees the head's address.
    CHECK(ValuesOf(run.out, "driver") == std::vector<std::string>{"|" + nodes[0].ip});
    CHECK(ValuesOf(run.out, "pinned_b") == std::vector<std::string>(2, SeenOn(nodes[1])));
    CHECK(ValuesOf(run.out, "pinned_c") == std::vector<std::string>(2, SeenOn(nodes[2])));
    CHECK(ValuesOf(run.out, "pinned_d") == std::vector<std::string>(2, SeenOn(nodes[3])));
  }
  {  // 30 CPU-bound tasks use every node
    CommandResult run = sandbox.Run(cluster.InHead({Sandbox::BinDir() + "/netns_driver", "spread", "30"}),
                                    cluster.DriverEnv(), kDriverTimeoutMs);
    INFO(run.Describe());
    REQUIRE(run.exit_code == 0);
    const auto seen = ValuesOf(run.out, "spread");
    REQUIRE(seen.size() == 30);
    std::map<std::string, int> per_node;
    for (const auto& s : seen) ++per_node[s];
    std::string counts;
    for (const auto& [where, n] : per_node) counts += where + ": " + std::to_string(n) + "; ";
    INFO("tasks per node: " << counts);
    for (const auto& node : nodes) CHECK(per_node[SeenOn(node)] > 0);
    CHECK(per_node.size() == 4);
    WARN("tasks per node: " << counts);
  }
  {  // a 50 MiB object made on B is read intact by a task on C and by the driver on the head
    CommandResult run = sandbox.Run(cluster.InHead({Sandbox::BinDir() + "/transfer_driver", "cross", "50"}),
                                    cluster.DriverEnv(), kDriverTimeoutMs);
    INFO(run.Describe());
    REQUIRE(run.exit_code == 0);
    const auto expect = ValuesOf(run.out, "expect");
    REQUIRE(expect.size() == 1);
    CHECK(ValuesOf(run.out, "c_sum") == expect);
    CHECK(ValuesOf(run.out, "driver_sum") == expect);
    CHECK(ValuesOf(run.out, "c_node") == std::vector<std::string>{nodes[2].session_dir});
  }
  {  // every TCP port a daemon listens on is reachable at its node's address from the head's namespace
    std::string script;
    for (const auto& node : nodes) {
      for (const auto& [daemon, pid] : node.pids) {
        for (int port : ListeningPorts(pid)) {
          const std::string at = node.ip + ":" + std::to_string(port);
          script += "(exec 3<>/dev/tcp/" + node.ip + "/" + std::to_string(port) + ") 2>/dev/null && echo reached=" +
                    at + " || echo unreachable=" + daemon + "@" + at + "\n";
        }
      }
    }
    CommandResult run = sandbox.Run(cluster.InHead({"/bin/bash", "-c", script}));
    INFO(script << run.Describe());
    CHECK(ValuesOf(run.out, "unreachable").empty());
    CHECK(ValuesOf(run.out, "reached").size() >= 2 * nodes.size());  // A raylet's and a store's, at least.
  }
  {  // lumen status lists the four nodes by their namespace addresses
    CommandResult status = cluster.Cli({"status", "--address", cluster.address()});
    INFO(status.Describe());
    REQUIRE(status.exit_code == 0);
    CHECK(status.out.find("Nodes: 4 alive") != std::string::npos);
    for (const auto& node : nodes) CHECK(status.out.find(node.ip + ":") != std::string::npos);
    CHECK(status.out.find("127.0.0.1") == std::string::npos);
  }
}

}  // namespace
// Issue 12: a node whose advertised address the GCS cannot reach (here
// 127.0.0.1 inside the node's own namespace: its raylet registers, since it
// reaches the GCS, but the GCS's health checks dial its own loopback) is
// reported instead of flapping between alive and dead while leases sent to
// it hang: the GCS logs the address its checks failed at, `lumen status`
// shows it DEAD (health check failed), and the raylet stops, saying why,
// after the third such death in a row.
TEST_CASE("a node the GCS cannot reach at its advertised address is reported and stops", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  if (!UseNamespacesOrSkip(cluster)) return;
  std::vector<std::string> unreachable = Args("1", "");
  unreachable.push_back("--node-ip-address=127.0.0.1");
  const bool started = cluster.StartHead(Args("1", "")) && cluster.AddNode(kDetectedIp, unreachable);
  INFO(cluster.error());
  REQUIRE(started);
  const ClusterNode& node = cluster.nodes()[1];
  REQUIRE(node.pids.count("raylet") == 1);
  const pid_t raylet = node.pids.at("raylet");
  // Three deaths of ~3 s each (1 s probes, 3 failures), registering between.
  CHECK(WaitUntil([&] { return !IsRunning(raylet); }, 60000));
  const std::string log = ReadFile(node.session_dir + "/logs/raylet.out");
  INFO(log);
  CHECK_THAT(log, Catch::Contains("the GCS marked this node dead: its health checks failed, so it cannot "
                                  "reach this raylet at 127.0.0.1:"));
  CHECK_THAT(log, Catch::Contains("3 times in a row: this node stops"));
  const std::string gcs_log = ReadFile(cluster.nodes()[0].session_dir + "/logs/gcs.out");
  CHECK_THAT(gcs_log, Catch::Contains("health checks in a row at 127.0.0.1:"));
  CommandResult status = cluster.Cli({"status", "--address", cluster.address()});
  INFO(status.Describe());
  CHECK_THAT(status.out, Catch::Contains("Nodes: 1 alive, 1 dead"));
  CHECK_THAT(status.out, Catch::Contains("127.0.0.1:"));
  CHECK_THAT(status.out, Catch::Contains("DEAD (health check failed)"));
}

}  // namespace lumen::testing
