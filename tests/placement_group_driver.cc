// A driver for integration_placement_group_test: joins the cluster at
// RAY_ADDRESS and prints "key=value" lines. A node is named by its session
// directory (LUMEN_SESSION_DIR of the worker).
//   spread   a STRICT_SPREAD group "three" of 3 one-CPU bundles: "created="
//            (Wait(60)), "bundle_node=<i>|<node>" from a task in each bundle,
//            "found_by_name=", "listed="; then a STRICT_SPREAD group "four"
//            of 4: "four_ready=" (Wait(2)), "four_state=", and once
//            "four_go" appears in $LUMEN_TEST_SANDBOX/go (the test adds a
//            node), "four_created=" (Wait(60)) and "four_nodes=" (distinct
//            nodes of its tasks)
//   remove   a group of one {"CPU": 1} bundle with an actor inside:
//            "actor_node=", "cpu_before=", "cpu_reserved=" (the cluster's
//            available CPU while the group holds its bundle), then removes
//            it: "actor_dead=" (a call fails), "cpu_after="
//   survive  a STRICT_SPREAD group of 2 {"CPU": 1, "side": 1} bundles (only
//            the two worker nodes have "side") with an actor in each:
//            "actor_node=<i>|<node>", "actor_pid=<i>|<pid>"; once "killed"
//            appears in the go file (the test SIGKILLed bundle 1's node):
//            "state_lost=" (the group's state), "survivor_pid=" (bundle 0's
//            actor answers, same process); once "joined" appears (a node
//            with "side" joined): "recreated=" (Wait(60)), "state_after=",
//            "bundle1_node=" (a task in bundle 1)
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string SessionDir() {
  const char* dir = std::getenv("LUMEN_SESSION_DIR");
  return dir ? dir : "";
}

class Holder {
 public:
  static Holder* Create() { return new Holder(); }
  std::string Node() { return SessionDir(); }
  int Pid() { return static_cast<int>(::getpid()); }
};

void Print(const std::string& key, const std::string& value) {
  std::printf("%s=%s\n", key.c_str(), value.c_str());
  std::fflush(stdout);
}

double AvailableCpu() {
  auto available = ray::AvailableResources();
  auto it = available.find("CPU");
  return it == available.end() ? 0 : it->second;
}

// Polls the cluster's available CPU (reported by raylets every few hundred
// ms) until `done` holds, for up to 30 s; the last value.
template <typename Pred>
double WaitForCpu(Pred done) {
  double cpu = AvailableCpu();
  for (int i = 0; i < 300 && !done(cpu); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    cpu = AvailableCpu();
  }
  return cpu;
}

bool GoFileSays(const std::string& word) {
  const char* root = std::getenv("LUMEN_TEST_SANDBOX");
  if (root == nullptr) return false;
  std::ifstream in(std::string(root) + "/go");
  std::string line;
  while (std::getline(in, line)) {
    if (line == word) return true;
  }
  return false;
}

std::vector<std::unordered_map<std::string, double>> CpuBundles(int n) {
  return std::vector<std::unordered_map<std::string, double>>(n, {{"CPU", 1}});
}

void Spread() {
  ray::PlacementGroup three = ray::CreatePlacementGroup(
      {"three", CpuBundles(3), ray::PlacementStrategy::STRICT_SPREAD});
  Print("created", three.Wait(60) ? "1" : "0");
  for (int i = 0; i < 3; ++i) {
    std::string node = *ray::Get(ray::Task(SessionDir).SetPlacementGroup(three, i).Remote());
    Print("bundle_node", std::to_string(i) + "|" + node);
  }
  Print("found_by_name", ray::GetPlacementGroup("three").GetID() == three.GetID() ? "1" : "0");
  Print("listed", std::to_string(ray::GetAllPlacementGroups().size()));

  ray::PlacementGroup four = ray::CreatePlacementGroup(
      {"four", CpuBundles(4), ray::PlacementStrategy::STRICT_SPREAD});
  Print("four_ready", four.Wait(2) ? "1" : "0");
  Print("four_state", std::to_string(static_cast<int>(four.GetState())));
  for (int i = 0; i < 600 && !GoFileSays("four_go"); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Print("four_created", four.Wait(60) ? "1" : "0");
  std::set<std::string> nodes;
  for (int i = 0; i < 4; ++i) {
    nodes.insert(*ray::Get(ray::Task(SessionDir).SetPlacementGroup(four, i).Remote()));
  }
  Print("four_nodes", std::to_string(nodes.size()));
}

void WaitForGo(const std::string& word) {
  for (int i = 0; i < 900 && !GoFileSays(word); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Survive() {
  std::vector<std::unordered_map<std::string, double>> bundles(2, {{"CPU", 1}, {"side", 1}});
  ray::PlacementGroup pair =
      ray::CreatePlacementGroup({"pair", bundles, ray::PlacementStrategy::STRICT_SPREAD});
  Print("created", pair.Wait(60) ? "1" : "0");
  std::vector<ray::ActorHandle<Holder>> actors;
  for (int i = 0; i < 2; ++i) {
    actors.push_back(ray::Actor(Holder::Create).SetPlacementGroup(pair, i).Remote());
    Print("actor_node", std::to_string(i) + "|" + *ray::Get(actors[i].Task(&Holder::Node).Remote()));
    Print("actor_pid", std::to_string(i) + "|" + std::to_string(*ray::Get(actors[i].Task(&Holder::Pid).Remote())));
  }
  WaitForGo("killed");
  // The GCS marks the node dead after its health checks fail.
  auto state = pair.GetState();
  for (int i = 0; i < 300 && state == ray::PlacementGroupState::CREATED; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    state = pair.GetState();
  }
  Print("state_lost", std::to_string(static_cast<int>(state)));
  Print("survivor_pid", std::to_string(*ray::Get(actors[0].Task(&Holder::Pid).Remote())));
  WaitForGo("joined");
  Print("recreated", pair.Wait(60) ? "1" : "0");
  Print("state_after", std::to_string(static_cast<int>(pair.GetState())));
  Print("bundle1_node", *ray::Get(ray::Task(SessionDir).SetPlacementGroup(pair, 1).Remote()));
}

void Remove() {
  const double before = WaitForCpu([](double cpu) { return cpu >= 6; });
  Print("cpu_before", std::to_string(before));
  ray::PlacementGroup group =
      ray::CreatePlacementGroup({"one", CpuBundles(1), ray::PlacementStrategy::PACK});
  Print("created", group.Wait(60) ? "1" : "0");
  auto actor = ray::Actor(Holder::Create).SetPlacementGroup(group, 0).Remote();
  Print("actor_node", *ray::Get(actor.Task(&Holder::Node).Remote()));
  Print("cpu_reserved", std::to_string(WaitForCpu([&](double cpu) { return cpu <= before - 1; })));
  ray::RemovePlacementGroup(group.GetID());
  bool dead = false;
  for (int i = 0; i < 100 && !dead; ++i) {
    try {
      ray::Get(actor.Task(&Holder::Node).Remote());
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    } catch (const std::exception& e) {
      dead = true;
    }
  }
  Print("actor_dead", dead ? "1" : "0");
  Print("state_after", std::to_string(static_cast<int>(group.GetState())));
  Print("cpu_after", std::to_string(WaitForCpu([&](double cpu) { return cpu >= before; })));
}

}  // namespace

RAY_REMOTE(SessionDir, Holder::Create, &Holder::Node, &Holder::Pid);

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    ray::RayConfig config;
    ray::Init(config, argc, argv);
    if (mode == "spread") {
      Spread();
    } else if (mode == "remove") {
      Remove();
    } else if (mode == "survive") {
      Survive();
    } else {
      std::fprintf(stderr, "unknown mode '%s'\n", mode.c_str());
      ray::Shutdown();
      return 2;
    }
    ray::Shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "driver failed: %s\n", e.what());
    return 1;
  }
  return 0;
}
