// Firewalls (issue 15, finding 8): `lumen start --node-manager-port P
// --min-worker-port A --max-worker-port B` puts the raylet on P and every
// worker's listening sockets (gRPC server, task channel) in [A, B], as the
// kernel reports them (/proc/<pid>/fd and /proc/net/tcp); a range whose
// ports are all taken gives the documented error to the driver instead of a
// hang; a range of one port is refused as bad usage.
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "common/net.h"
#include "tests/harness.h"

using lumen::testing::CommandResult;
using lumen::testing::ListeningPorts;
using lumen::testing::Sandbox;
using lumen::testing::WaitUntil;

namespace {

std::string Driver() { return Sandbox::BinDir() + "/ports_driver"; }

bool IsWorker(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/environ", std::ios::binary);
  std::string entry;
  while (std::getline(in, entry, '\0')) {
    if (entry == "LUMEN_WORKER_MODE=1") return true;
  }
  return false;
}

std::vector<pid_t> Workers(const Sandbox& sandbox) {
  std::vector<pid_t> workers;
  for (pid_t pid : sandbox.MarkedProcesses()) {
    if (IsWorker(pid)) workers.push_back(pid);
  }
  return workers;
}

// The first of `n` consecutive loopback ports that are all free now.
int FreeRange(int n) {
  for (int attempt = 0; attempt < 100; ++attempt) {
    const int base = Sandbox::FreePort();
    if (base + n > 65535) continue;
    bool all_free = true;
    for (int port = base; port < base + n && all_free; ++port) {
      all_free = lumen::CheckPortFree("127.0.0.1", port).ok();
    }
    if (all_free) return base;
  }
  return -1;
}

CommandResult StartHead(Sandbox& sandbox, std::vector<std::string> extra) {
  std::vector<std::string> args = {"start", "--head", "--port", std::to_string(Sandbox::FreePort()), "--num-cpus",
                                   "2", "--object-store-memory", "64000000"};
  args.insert(args.end(), extra.begin(), extra.end());
  return sandbox.Lumen(args);
}

}  // namespace

TEST_CASE("the raylet listens on --node-manager-port and workers only in the worker port range") {
  Sandbox sandbox;
  const int raylet_port = Sandbox::FreePort();
  const int data_port = Sandbox::FreePort();
  const int first = FreeRange(6);
  REQUIRE(first > 0);
  const int last = first + 5;
  auto start = StartHead(sandbox, {"--node-ip-address", "127.0.0.1", "--node-manager-port",
                                   std::to_string(raylet_port), "--min-worker-port", std::to_string(first),
                                   "--max-worker-port", std::to_string(last), "--object-manager-port",
                                   std::to_string(data_port)});
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  CHECK_THAT(start.out, Catch::Contains("Raylet address:  127.0.0.1:" + std::to_string(raylet_port)));
  const auto pids = sandbox.SessionPids(Sandbox::SessionDirFromOutput(start.out));
  REQUIRE(pids.count("raylet"));
  CHECK(ListeningPorts(pids.at("raylet")).count(raylet_port) == 1);
  // The object data port (raylet/object_data.h) is --object-manager-port.
  CHECK(WaitUntil([&] { return ListeningPorts(pids.at("raylet")).count(data_port) == 1; }, 10000));

  // Two tasks held running: two workers, both with their ports bound.
  const std::string stop_file = sandbox.root() + "/stop";
  pid_t driver = sandbox.Spawn("hold", {Driver(), "hold", stop_file, "2"},
                               {{"RAY_ADDRESS", Sandbox::GcsAddressFromOutput(start.out)}});
  REQUIRE(driver > 0);
  const bool running = WaitUntil(
      [&] {
        return std::filesystem::exists(stop_file + ".running.0") && std::filesystem::exists(stop_file + ".running.1");
      },
      120000);
  // Read while the tasks still run: the job's end takes its workers.
  std::map<pid_t, std::set<int>> workers;
  for (pid_t worker : Workers(sandbox)) workers[worker] = ListeningPorts(worker);
  std::ofstream(stop_file) << "1";
  REQUIRE(running);
  REQUIRE(workers.size() >= 2);
  std::set<int> all;
  int serving = 0;  // Workers with both ports bound (one still starting may have none yet).
  for (const auto& [worker, ports] : workers) {
    INFO("worker pid " << worker);
    CHECK(ports.size() <= 2);  // Its gRPC server and its task channel, nothing else.
    if (ports.size() == 2) ++serving;
    for (int port : ports) {
      INFO("port " << port << ", range " << first << "-" << last);
      CHECK(port >= first);
      CHECK(port <= last);
      CHECK(all.insert(port).second);
    }
  }
  CHECK(serving >= 2);  // The two running the held tasks.
  CHECK(sandbox.WaitForChild(driver, 120000) == std::optional<int>(0));
}

TEST_CASE("a worker port range without free ports fails the driver's task with the documented error") {
  Sandbox sandbox;
  lumen::testing::LoopbackListener other_program;  // Holds the range's first port.
  REQUIRE(other_program.port() > 0);
  const int first = other_program.port();
  auto start = StartHead(sandbox, {"--node-ip-address", "127.0.0.1", "--min-worker-port", std::to_string(first),
                                   "--max-worker-port", std::to_string(first + 1)});
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  auto run = sandbox.Run({Driver(), "one"}, {{"RAY_ADDRESS", Sandbox::GcsAddressFromOutput(start.out)}},
                         120000);
  INFO(run.Describe());
  CHECK(run.exit_code == 4);
  CHECK_THAT(run.out, Catch::Contains("no free port for a worker"));
  CHECK_THAT(run.out, Catch::Contains(std::to_string(first) + "-" + std::to_string(first + 1) +
                                      " (--min-worker-port/--max-worker-port)"));
  CHECK_THAT(run.out, Catch::Contains("widen the range"));
  CHECK(Workers(sandbox).empty());
}

TEST_CASE("a taken --object-manager-port fails lumen start with an error naming the flag") {
  Sandbox sandbox;
  lumen::testing::LoopbackListener other_program;  // Holds the port asked for.
  REQUIRE(other_program.port() > 0);
  auto start = StartHead(sandbox, {"--node-ip-address", "127.0.0.1", "--object-manager-port",
                                   std::to_string(other_program.port())});
  INFO(start.Describe());
  CHECK(start.exit_code != 0);
  CHECK_THAT(start.err, Catch::Contains("port " + std::to_string(other_program.port()) +
                                        " on 127.0.0.1 is already in use"));
  CHECK_THAT(start.err, Catch::Contains("--object-manager-port"));
  CHECK(sandbox.LumenDaemons().empty());
}

// Issue 12, Addresses: a head told no address takes the machine's outbound
// one (as Ray does), prints it, and stays reachable from this machine by
// the address file, RAY_ADDRESS=auto and 127.0.0.1:PORT; a given address
// that is not this machine's is refused before anything starts.
TEST_CASE("a head without --node-ip-address advertises the machine's address and is found locally") {
  Sandbox sandbox;
  const std::string ip = lumen::DetectNodeIp();
  if (ip == "127.0.0.1") WARN("this machine has no network address: the head stays on loopback");
  const std::string port = std::to_string(Sandbox::FreePort());
  const std::map<std::string, std::string> no_ip = {{"LUMEN_NODE_IP", "\x01unset"}};
  auto start = sandbox.Lumen({"start", "--head", "--port", port, "--num-cpus", "1", "--object-store-memory",
                              "64000000", "--dashboard-host", "0.0.0.0", "--dashboard-port", "0"},
                             no_ip);
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  const std::string gcs = ip + ":" + port;
  CHECK_THAT(start.out, Catch::Contains("GCS address:     " + gcs));
  CHECK_THAT(start.out, Catch::Contains("Raylet address:  " + ip + ":"));
  CHECK_THAT(start.out, Catch::Contains("Dashboard:       http://" + ip + ":"));
  CHECK_THAT(start.out, Catch::Contains("lumen start --address=" + gcs));

  auto status = sandbox.Lumen({"status"}, no_ip);  // Through <temp-dir>/lumen_current_cluster.
  INFO(status.Describe());
  CHECK(status.exit_code == 0);
  CHECK_THAT(status.out, Catch::Contains(gcs));
  auto loopback = sandbox.Lumen({"status", "--address", "127.0.0.1:" + port}, no_ip);
  INFO(loopback.Describe());
  CHECK(loopback.exit_code == 0);
  for (const std::string& address : {std::string("auto"), "127.0.0.1:" + port}) {
    std::map<std::string, std::string> env = no_ip;
    env["RAY_ADDRESS"] = address;
    auto run = sandbox.Run({Driver(), "one"}, env, 120000);
    INFO("RAY_ADDRESS=" << address << "\n" << run.Describe());
    CHECK(run.exit_code == 0);
    CHECK_THAT(run.out, Catch::Contains("answer=42"));
  }

  auto elsewhere = sandbox.Lumen({"start", "--address", gcs, "--num-cpus", "1", "--object-store-memory",
                                  "64000000", "--node-ip-address", "198.51.100.7"},
                                 no_ip);
  INFO(elsewhere.Describe());
  CHECK(elsewhere.exit_code != 0);
  CHECK_THAT(elsewhere.err, Catch::Contains("198.51.100.7 is not an address of this machine"));
  CHECK_THAT(elsewhere.err, Catch::Contains("--node-ip-address"));
}

TEST_CASE("a worker port range of one port is bad usage") {
  Sandbox sandbox;
  auto start = StartHead(sandbox, {"--min-worker-port", "30000", "--max-worker-port", "30000"});
  INFO(start.Describe());
  CHECK(start.exit_code == 2);
  CHECK_THAT(start.err, Catch::Contains("holds 1 port; a worker binds 2"));
  CHECK(sandbox.LumenDaemons().empty());
}
