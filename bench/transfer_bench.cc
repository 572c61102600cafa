// bench/transfer_bench: object transfer between nodes (docs/objects.md,
// "Between nodes") on a local cluster (tests/cluster_harness.h): a head
// (127.0.0.1), node B (127.0.0.2, where the object is made) and N nodes
// C1.. (127.0.0.3, ...). Prints:
//   transfer      a 1 GiB object pulled from B to the head (the driver's
//                 ray::GetView), GB/s: the median of the warm rounds that
//                 follow a first one, whose copies reuse the store pages
//                 the earlier rounds wrote (the tcp stream's buffer is
//                 written before it is timed, too);
//   cold          the same for the first round: the receiving store's
//                 pages are allocated and zeroed by the kernel during the
//                 pull;
//   tcp           (median of as many runs as warm rounds)
//                 1 GiB over one plain TCP connection from 127.0.0.2 to
//                 127.0.0.1 in this process, 4 MiB writes into a 1 GiB
//                 buffer, measured in the same run; the ratio transfer/tcp
//                 (goal >= 0.8);
//   broadcast     the object read by one task on each of the N nodes at
//                 once, seconds, and its ratio to one transfer (goal < 2);
//                 then, per node, the source it pulled from (B, or a node
//                 that already held a copy: chaining);
//   cpu           the CPU time the whole machine spent during one transfer
//                 and during the broadcast (/proc/stat: every process),
//                 and how many of its cores that kept busy on average. A
//                 broadcast that keeps every core busy is bound by this
//                 machine's CPU: on one machine its N receivers share the
//                 cores, on N machines each has its own;
//   floor         that bound: N times one transfer's CPU over the cores
//                 (at least one transfer's time), and the broadcast's ratio
//                 to it (1.0: as fast as this machine allows).
// The raylets move the bytes over their plain TCP data ports
// (raylet/object_data.h).
// Usage: transfer_bench [MiB, default 1024] [N broadcast nodes, default 4]
//                       [warm rounds, default 3: each figure is their median]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

#include "bench/floors.h"
#include "tests/cluster_harness.h"

using lumen::bench::Median;
using lumen::testing::CommandResult;
using lumen::testing::LocalCluster;
using lumen::testing::Sandbox;
using lumen::testing::ValuesOf;

namespace {

sockaddr_in Loopback(const char* ip, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip, &addr.sin_addr);
  return addr;
}

// Seconds to send `bytes` from 127.0.0.2 to 127.0.0.1 over one connection;
// < 0 on a socket error.
double PlainTcp(uint64_t bytes) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr = Loopback("127.0.0.1", 0);
  socklen_t len = sizeof(addr);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || listen(listener, 1) != 0 ||
      getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(listener);
    return -1;
  }
  std::vector<char> sink(bytes);
  bool received_all = false;
  std::thread receiver([&] {
    int fd = accept(listener, nullptr, nullptr);
    uint64_t got = 0;
    while (fd >= 0 && got < bytes) {
      ssize_t n = recv(fd, sink.data() + got, bytes - got, 0);
      if (n <= 0) break;
      got += n;
    }
    received_all = got == bytes;
    if (fd >= 0) close(fd);
  });
  const auto start = std::chrono::steady_clock::now();
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in from = Loopback("127.0.0.2", 0);
  bool ok = bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof(from)) == 0 &&
            connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  std::vector<char> chunk(4 << 20, 'x');
  for (uint64_t sent = 0; ok && sent < bytes;) {
    ssize_t n = send(fd, chunk.data(), std::min<uint64_t>(chunk.size(), bytes - sent), 0);
    if (n <= 0) ok = false; else sent += n;
  }
  close(fd);
  receiver.join();
  close(listener);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return ok && received_all ? seconds : -1;
}

std::vector<double> Numbers(const std::vector<std::string>& values) {
  std::vector<double> out;
  for (const auto& v : values) out.push_back(std::atof(v.c_str()));
  return out;
}

std::string List(const std::vector<double>& values) {
  std::string out;
  char buf[32];
  for (double v : values) {
    std::snprintf(buf, sizeof(buf), "%s%.2f", out.empty() ? "" : " ", v);
    out += buf;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int mib = argc > 1 ? std::atoi(argv[1]) : 1024;
  const int nodes = argc > 2 ? std::atoi(argv[2]) : 4;
  const int rounds = std::max(1, argc > 3 ? std::atoi(argv[3]) : 3);
  const uint64_t bytes = uint64_t(mib) << 20;
  // Room for one object and a half: the second round's copy must evict the
  // first, and so reuses its pages.
  const std::string store = std::to_string(bytes + bytes / 2);
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  bool started = cluster.StartHead({"--num-cpus", "1", "--object-store-memory", store}) &&
                 cluster.AddNode("127.0.0.2", {"--num-cpus", "1", "--object-store-memory", store,
                                               "--resources", R"({"b": 1})"});
  for (int i = 0; started && i < nodes; ++i) {
    started = cluster.AddNode("127.0.0." + std::to_string(3 + i), {"--num-cpus", "1", "--object-store-memory", store});
  }
  if (!started || !cluster.WaitForAlive(2 + nodes)) {
    std::fprintf(stderr, "cannot start the cluster: %s\n", cluster.error().c_str());
    return 1;
  }
  CommandResult run = sandbox.Run({Sandbox::BinDir() + "/transfer_driver", "bench", std::to_string(mib),
                                   std::to_string(nodes), std::to_string(rounds)},
                                  cluster.DriverEnv(), 600000);
  const auto transfer = ValuesOf(run.out, "transfer_s");
  const auto broadcast = ValuesOf(run.out, "broadcast_s");
  const auto cold_transfer = ValuesOf(run.out, "cold_transfer_s");
  const auto cold_broadcast = ValuesOf(run.out, "cold_broadcast_s");
  if (run.exit_code != 0 || transfer.empty()) {
    std::fprintf(stderr, "driver failed: %s\n", run.Describe().c_str());
    return 1;
  }
  // The raylets' own lines for the last pull of each node: source, path,
  // time (and with GLOG_v=1 the time to create, receive and seal).
  for (size_t i = 0; i < cluster.nodes().size(); ++i) {
    const std::string log = lumen::testing::ReadFile(cluster.nodes()[i].session_dir + "/logs/raylet.out");
    for (const char* what : {"pulling object ", ": create ", "pulled object "}) {
      const size_t at = log.rfind(what);
      if (at == std::string::npos) continue;
      const size_t begin = log.rfind('\n', at) + 1;
      std::printf("%s raylet: %s\n", cluster.nodes()[i].ip.c_str(), log.substr(begin, log.find('\n', at) - begin).c_str());
    }
  }
  // The stream, like the transfers, varies a lot from run to run on this
  // machine (0.23 to 0.67 s for 1 GiB): measured `rounds` times too.
  std::vector<double> tcp;
  for (int i = 0; i < rounds; ++i) {
    if (const double t = PlainTcp(bytes); t > 0) tcp.push_back(t);
  }
  const double gb = bytes / 1e9;
  const std::vector<double> t = Numbers(transfer);
  const double transfer_s = Median(t);
  std::printf("transfer   %d MiB B->head: %.3f s, %.2f GB/s  (median of %zu rounds: %s)\n", mib, transfer_s,
              gb / transfer_s, t.size(), List(t).c_str());
  if (!tcp.empty()) {
    const double tcp_s = Median(tcp);
    std::printf("tcp        %d MiB 127.0.0.2->127.0.0.1: %.3f s, %.2f GB/s  (median of %zu: %s)\n", mib, tcp_s,
                gb / tcp_s, tcp.size(), List(tcp).c_str());
    std::printf("ratio      transfer/tcp = %.2f of the medians (goal >= 0.8)\n", tcp_s / transfer_s);
  }
  const std::vector<double> bc = Numbers(broadcast);
  if (bc.size() == t.size()) {
    std::vector<double> ratios;
    for (size_t i = 0; i < bc.size(); ++i) ratios.push_back(bc[i] / t[i]);
    std::printf("broadcast  %d MiB to %d nodes: %.3f s, %.2fx the transfer of its round (medians; ratios %s; goal < 2)\n",
                mib, nodes, Median(bc), Median(ratios), List(ratios).c_str());
    const std::vector<double> transfer_cpu = Numbers(ValuesOf(run.out, "transfer_cpu_s"));
    const std::vector<double> broadcast_cpu = Numbers(ValuesOf(run.out, "broadcast_cpu_s"));
    const long cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (transfer_cpu.size() == t.size() && broadcast_cpu.size() == bc.size() && cores > 0) {
      std::vector<double> busy_t, busy_b;
      for (size_t i = 0; i < t.size(); ++i) busy_t.push_back(transfer_cpu[i] / t[i]);
      for (size_t i = 0; i < bc.size(); ++i) busy_b.push_back(broadcast_cpu[i] / bc[i]);
      std::printf("cpu        cores busy (of %ld) during each transfer: %s; during each broadcast: %s\n", cores,
                  List(busy_t).c_str(), List(busy_b).c_str());
      // This machine's floor for the broadcast: N receivers each need the
      // CPU one transfer took, on `cores` cores (and at least one transfer's
      // time). Separate machines, each with its own cores, have no such floor.
      std::vector<double> floors, to_floor;
      for (size_t i = 0; i < t.size(); ++i) {
        floors.push_back(std::max(t[i], nodes * transfer_cpu[i] / static_cast<double>(cores)));
        to_floor.push_back(bc[i] / floors.back());
      }
      std::printf("floor      broadcast bound by this machine's CPU: %.3f s (%d x one transfer's CPU / %ld cores), "
                  "%.2fx the transfer; broadcast/floor = %.2f (medians; %s)\n",
                  Median(floors), nodes, cores, Median(floors) / transfer_s, Median(to_floor),
                  List(to_floor).c_str());
    }
  }
  if (cold_transfer.size() == 1) {
    const double cold = std::atof(cold_transfer[0].c_str());
    std::printf("cold       first pull into never-written store pages: %.3f s, %.2f GB/s, %.2fx tcp\n", cold,
                gb / cold, tcp.empty() ? 0.0 : Median(tcp) / cold);
    if (cold_broadcast.size() == 1) {
      const double b = std::atof(cold_broadcast[0].c_str());
      std::printf("cold       broadcast: %.3f s, %.2fx the cold transfer\n", b, b / cold);
    }
  }
  return 0;
}
