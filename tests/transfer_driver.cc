// A driver for integration_transfer_test and bench/transfer_bench: objects
// made on one node and read on others (docs/objects.md, "Between nodes").
// Joins the cluster at RAY_ADDRESS, prints "key=value" lines. Node B has
// the resource "b", node C "c" (the test starts them so); sizes in MiB.
//   cross MiB   Make on B; Sum on C; the driver (head node) sums its view:
//               "expect=", "c_sum=", "c_node=", "driver_sum="
//   five MiB    Make on B; 5 Sum tasks on C at once: "five_sum=" per task
//   spilled MiB three objects made on B, whose store holds two; each read
//               on C: "spilled_expect=", "spilled_c_sum=" per object
//   dead MiB    Make on B ("ready=1" once made); waits for the file
//               $LUMEN_TEST_SANDBOX/go (the test kills B meanwhile), then
//               Get: "error=<what>" or "got=1"
//   chain MiB   as cross, but after C's sum (C now holds a copy too)
//               prints "ready=1" and waits for $LUMEN_TEST_SANDBOX/go
//               before the driver reads
//   bench MiB N [R] with a task warmed up on each of N nodes (127.0.0.3, .4,
//               ...), rounds of: make on B; the driver's GetView (a pull
//               from B to the head) timed: "transfer_s="; then one task per
//               node reads it at once: "broadcast_s=" (first submit to last
//               reply). The first round's keys start with "cold_" (the
//               stores' pages are written for the first time); R warm
//               rounds (default 1) follow it. With each
//               time, the CPU time the whole machine spent meanwhile
//               (/proc/stat, every process): "transfer_cpu_s=",
//               "broadcast_cpu_s=".
#include <ray/api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <cstdlib>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <unistd.h>

#include "bench/floors.h"

namespace {

std::vector<uint8_t> Make(int64_t bytes, uint64_t seed) {
  std::vector<uint8_t> out(static_cast<size_t>(bytes));
  uint64_t x = 0x9e3779b97f4a7c15ull + seed;
  for (size_t i = 0; i < out.size(); ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift64: no period within a GiB.
    out[i] = static_cast<uint8_t>(x);
  }
  return out;
}

uint64_t Checksum(const uint8_t* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

std::string Sum(ray::ArrayView<uint8_t> view) {
  const char* dir = std::getenv("LUMEN_SESSION_DIR");
  return std::to_string(Checksum(view.data(), view.size())) + "|" + (dir ? dir : "");
}

uint64_t Length(ray::ArrayView<uint8_t> view) { return view.size(); }

RAY_REMOTE(Make, Sum, Length);

void Print(const std::string& key, const std::string& value) {
  std::printf("%s=%s\n", key.c_str(), value.c_str());
  std::fflush(stdout);
}

int64_t MiB(int argc, char** argv) { return (argc > 2 ? std::atoll(argv[2]) : 200) << 20; }

ray::ObjectRef<std::vector<uint8_t>> MakeOnB(int64_t bytes, uint64_t seed = 0) {
  return ray::Task(Make).SetResource("b", 1).Remote(bytes, seed);
}

void WaitForGo();

// `wait_for_go`: the "chain" mode, which waits before the driver reads.
void Cross(int64_t bytes, bool wait_for_go = false) {
  auto made = MakeOnB(bytes);
  const std::vector<uint8_t> expect = Make(bytes, 0);
  Print("expect", std::to_string(Checksum(expect.data(), expect.size())));
  std::string c = *ray::Task(Sum).SetResource("c", 1).Remote(made).Get();
  Print("c_sum", c.substr(0, c.find('|')));
  Print("c_node", c.substr(c.find('|') + 1));
  if (wait_for_go) WaitForGo();
  ray::ArrayView<uint8_t> view = ray::GetView(made);
  Print("driver_sum", std::to_string(Checksum(view.data(), view.size())));
}

void Five(int64_t bytes) {
  auto made = MakeOnB(bytes);
  ray::Wait(std::vector<ray::ObjectRef<std::vector<uint8_t>>>{made}, 1, -1);
  std::vector<ray::ObjectRef<std::string>> sums;
  for (int i = 0; i < 5; ++i) sums.push_back(ray::Task(Sum).SetResource("c", 0.2).Remote(made));
  for (const auto& s : ray::Get(sums)) Print("five_sum", s->substr(0, s->find('|')));
}

// Three objects made on B, whose store holds only two of them: B spills
// some, and restores each one C asks for before sending it.
void Spilled(int64_t bytes) {
  std::vector<ray::ObjectRef<std::vector<uint8_t>>> made;
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    made.push_back(MakeOnB(bytes, seed));
    ray::Wait(std::vector<ray::ObjectRef<std::vector<uint8_t>>>{made.back()}, 1, -1);
  }
  for (uint64_t seed = 1; seed <= 3; ++seed) {
    const std::vector<uint8_t> expect = Make(bytes, seed);
    Print("spilled_expect", std::to_string(Checksum(expect.data(), expect.size())));
    std::string c = *ray::Task(Sum).SetResource("c", 1).Remote(made[seed - 1]).Get();
    Print("spilled_c_sum", c.substr(0, c.find('|')));
  }
}

void WaitForGo() {
  Print("ready", "1");
  const char* root = std::getenv("LUMEN_TEST_SANDBOX");
  const std::string go = std::string(root ? root : ".") + "/go";
  while (!std::ifstream(go)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void Dead(int64_t bytes) {
  // No retries: with them the owner would run Make again to rebuild the
  // lost value, and only B has "b" (docs/objects.md, "Lineage reconstruction").
  auto made = ray::Task(Make).SetResource("b", 1).SetMaxRetries(0).Remote(bytes, uint64_t{0});
  ray::Wait(std::vector<ray::ObjectRef<std::vector<uint8_t>>>{made}, 1, -1);
  WaitForGo();
  try {
    ray::GetView(made);
    Print("got", "1");
  } catch (const std::exception& e) {
    Print("error", e.what());
  }
}

using lumen::bench::MachineBusySeconds;
using lumen::bench::SecondsSince;

// Times one phase: "<key>_s=" (wall) and "<key>_cpu_s=" (machine CPU).
class Phase {
 public:
  explicit Phase(std::string key) : key_(std::move(key)), cpu_(MachineBusySeconds()) {}
  void End() {
    const double wall = SecondsSince(start_);
    const double cpu = MachineBusySeconds();
    Print(key_ + "_s", std::to_string(wall));
    if (cpu_ >= 0 && cpu >= 0) Print(key_ + "_cpu_s", std::to_string(cpu - cpu_));
  }

 private:
  std::string key_;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double cpu_;
};

// One round of the bench: an object made on B, pulled to the head (timed),
// then read by one task on each of `nodes` nodes at once (timed). The
// object and the driver's view are released at the end.
void BenchRound(int64_t bytes, int nodes, uint64_t seed, const std::string& prefix) {
  auto made = MakeOnB(bytes, seed);
  ray::Wait(std::vector<ray::ObjectRef<std::vector<uint8_t>>>{made}, 1, -1);
  Phase transfer(prefix + "transfer");
  {
    ray::ArrayView<uint8_t> view = ray::GetView(made);
    transfer.End();
    if (view.size() != static_cast<size_t>(bytes)) throw std::runtime_error("short object");
  }
  if (nodes <= 0) return;
  std::vector<ray::ObjectRef<uint64_t>> lengths;
  auto on = [](int i) { return "node:127.0.0." + std::to_string(3 + i); };  // C1, C2, ...
  Phase broadcast(prefix + "broadcast");
  for (int i = 0; i < nodes; ++i) lengths.push_back(ray::Task(Length).SetResource(on(i), 0.01).Remote(made));
  for (const auto& n : ray::Get(lengths)) {
    if (*n != static_cast<uint64_t>(bytes)) throw std::runtime_error("short object on a node");
  }
  broadcast.End();
}

// A first round into stores whose memory was never written ("cold_": the
// kernel allocates and zeroes the receiving pages during the pull), then
// `rounds` more whose copies replace the earlier ones (the pages are reused,
// as in a store that has been running a while).
void Bench(int64_t bytes, int nodes, int rounds) {
  auto warm = ray::Put(std::vector<uint8_t>(1 << 20));
  std::vector<ray::ObjectRef<uint64_t>> lengths;
  auto on = [](int i) { return "node:127.0.0." + std::to_string(3 + i); };
  for (int i = 0; i < nodes; ++i) lengths.push_back(ray::Task(Length).SetResource(on(i), 0.01).Remote(warm));
  ray::Get(lengths);
  BenchRound(bytes, nodes, 1, "cold_");
  for (int i = 0; i < rounds; ++i) BenchRound(bytes, nodes, 2 + i, "");
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    ray::RayConfig config;
    ray::Init(config, argc, argv);
    if (mode == "cross") {
      Cross(MiB(argc, argv));
    } else if (mode == "five") {
      Five(MiB(argc, argv));
    } else if (mode == "bench") {
      Bench(MiB(argc, argv), argc > 3 ? std::atoi(argv[3]) : 0, argc > 4 ? std::max(1, std::atoi(argv[4])) : 1);
    } else if (mode == "spilled") {
      Spilled(MiB(argc, argv));
    } else if (mode == "chain") {
      Cross(MiB(argc, argv), /*wait_for_go=*/true);
    } else if (mode == "dead") {
      Dead(MiB(argc, argv));
    } else {
      std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
      return 2;
    }
    ray::Shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "driver error: %s\n", e.what());
    return 1;
  }
  return 0;
}
