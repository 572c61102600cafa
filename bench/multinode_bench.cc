// bench/multinode_bench: scheduling across nodes and node failure on a
// head and two worker nodes started on this machine (tests/cluster_harness.h,
// each worker node on its own loopback address). Prints:
//   multi_client_tasks_async   3 drivers at once, one attached to each
//                              node, each submitting N tiny tasks; tasks/s
//                              of all of them together (and each alone);
//   spread of 100 CPU-bound tasks (50 ms each): tasks per node, tasks/s;
//   node death                 a worker node's raylet SIGKILLed while 3
//                              tasks of 5 s run: time until `lumen status`
//                              shows it dead, and until its tasks started
//                              again elsewhere (goal: under 5 s each).
// Usage: multinode_bench [tiny tasks per driver, default 2000]
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "tests/cluster_harness.h"

using lumen::testing::CommandResult;
using lumen::testing::LocalCluster;
using lumen::testing::ReadFile;
using lumen::testing::Sandbox;
using lumen::testing::ValuesOf;
using lumen::testing::WaitUntil;

namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string Driver() { return Sandbox::BinDir() + "/multinode_driver"; }

bool StartCluster(LocalCluster& cluster) {
  if (!cluster.StartHead({"--num-cpus", "1"}) ||
      !cluster.AddNode("127.0.0.2", {"--num-cpus", "2"}) ||
      !cluster.AddNode("127.0.0.3", {"--num-cpus", "4"}) || !cluster.WaitForAlive(3)) {
    std::fprintf(stderr, "cannot start the cluster: %s\n", cluster.error().c_str());
    return false;
  }
  return true;
}

void MultiClient(Sandbox& sandbox, LocalCluster& cluster, int n) {
  const std::string count = std::to_string(n);
  // Warm up: workers started on every node.
  sandbox.Run({Driver(), "spread", "30"}, cluster.DriverEnv(), 120000);
  const char* ips[] = {"127.0.0.1", "127.0.0.2", "127.0.0.3"};
  std::vector<pid_t> drivers;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 3; ++i) {
    auto env = cluster.DriverEnv();
    env["LUMEN_NODE_IP"] = ips[i];
    drivers.push_back(sandbox.Spawn("client" + std::to_string(i), {Driver(), "tiny", count}, env));
  }
  for (pid_t pid : drivers) sandbox.WaitForChild(pid, 300000);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double sum = 0;
  std::string each;
  for (int i = 0; i < 3; ++i) {
    const auto rate = ValuesOf(ReadFile(sandbox.root() + "/client" + std::to_string(i) + ".out"),
                               "tasks_per_s");
    if (!rate.empty()) sum += std::atof(rate[0].c_str());
    each += std::string(i ? ", " : "") + ips[i] + " " + (rate.empty() ? "failed" : rate[0].substr(0, rate[0].find('.')));
  }
  // Each driver times its own submits and Gets; they overlap almost wholly.
  std::printf("multi_client_tasks_async (3 drivers, one per node, %d tasks each): %.0f tasks/s "
              "(sum of the drivers' rates: %s); %.0f tasks/s over the wall clock including "
              "the drivers' start\n",
              n, sum, each.c_str(), 3 * n / seconds);
}

void Spread(Sandbox& sandbox, LocalCluster& cluster) {
  CommandResult run = sandbox.Run({Driver(), "spread", "100"}, cluster.DriverEnv(), 120000);
  std::map<int, int> per_node;
  for (const auto& node : ValuesOf(run.out, "node")) ++per_node[cluster.NodeOf(node)];
  const auto rate = ValuesOf(run.out, "tasks_per_s");
  std::printf("100 CPU-bound tasks of 50 ms (1 + 2 + 4 CPUs): head %d, B %d, C %d; %s tasks/s\n",
              per_node[0], per_node[1], per_node[2], rate.empty() ? "failed" : rate[0].c_str());
}

void NodeDeath(Sandbox& sandbox, LocalCluster& cluster) {
  const pid_t driver = sandbox.Spawn("hold", {Driver(), "hold", "3"}, cluster.DriverEnv());
  const std::string log = sandbox.root() + "/hold.out";
  // The 3 tasks start (head 1 CPU, B 2, C 4; each adds its node to
  // <root>/starts); the victim is a worker node running one. The other
  // two nodes have room for all 3 (a retry need not wait for a CPU).
  const std::string starts = sandbox.root() + "/starts";
  WaitUntil([&] { return ValuesOf(ReadFile(starts), "start").size() >= 3; }, 60000, 20);
  int victim = -1;
  for (const std::string& node : ValuesOf(ReadFile(starts), "start")) {
    if (cluster.NodeOf(node) > 0) victim = cluster.NodeOf(node);
  }
  if (victim < 0) {
    std::printf("node death: no task started on a worker node\n");
    sandbox.WaitForChild(driver, 120000);
    return;
  }
  const int64_t killed_ms = NowMs();
  ::kill(cluster.nodes()[victim].pids.at("raylet"), SIGKILL);
  int64_t dead_ms = -1;
  WaitUntil(
      [&] {
        if (sandbox.Lumen({"status", "--address", cluster.address()}).out.find("1 dead") ==
            std::string::npos) {
          return false;
        }
        dead_ms = NowMs();
        return true;
      },
      60000, 20);
  sandbox.WaitForChild(driver, 120000);
  int64_t restarted_ms = -1;
  int on_victim = 0;
  for (const std::string& held : ValuesOf(ReadFile(log), "held")) {
    const size_t bar = held.rfind('|');
    const int64_t start = std::atoll(held.substr(bar + 1).c_str());
    if (cluster.NodeOf(held.substr(0, bar)) == victim) ++on_victim;
    if (start > killed_ms) restarted_ms = std::max(restarted_ms, start);
  }
  std::printf("node death: marked dead by the GCS after %s ms (goal < 5000)\n",
              dead_ms < 0 ? "never" : std::to_string(dead_ms - killed_ms).c_str());
  if (restarted_ms < 0) {
    std::printf("node death: no task was running on the killed node (run again)\n");
  } else {
    std::printf("node death: its tasks started again elsewhere after %lld ms (goal < 5000)\n",
                static_cast<long long>(restarted_ms - killed_ms));
  }
  if (std::getenv("MULTINODE_BENCH_VERBOSE") != nullptr) {
    std::printf("%s\n--- driver stderr ---\n%s\n", ReadFile(log).c_str(),
                ReadFile(sandbox.root() + "/hold.err").c_str());
    std::printf("killed at %lld\n", static_cast<long long>(killed_ms));
  }
  if (on_victim > 0) std::printf("node death: %d tasks finished on the dead node (bug)\n", on_victim);
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  if (!StartCluster(cluster)) return 1;
  MultiClient(sandbox, cluster, n);
  Spread(sandbox, cluster);
  NodeDeath(sandbox, cluster);
  return 0;
}
