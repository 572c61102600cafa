// GPU tasks on a local cluster told it has 2 GPUs (no hardware needed),
// started with CUDA_VISIBLE_DEVICES=5,7 as a node restricted to two devices
// would be: each task holding a GPU sees only its own device (index 0 is
// device 5), and a task without GPUs sees the worker's original value.
#include <ray/api.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <set>

#include "tests/tasks_harness.h"

namespace {
// Waits at the rendezvous in `dir` until `parties` tasks have arrived (so
// they hold their GPUs at one moment; 1: no wait), then reports what it sees.
std::string VisibleGpus(std::string dir, int parties) {
  if (parties > 1 && !lumen::testing::Rendezvous(dir, parties, 60000)) return "<not all arrived>";
  const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
  return v ? v : "<unset>";
}

// An actor holding GPUs keeps them, and CUDA_VISIBLE_DEVICES, for its life.
class GpuActor {
 public:
  static GpuActor* Create() { return new GpuActor(); }
  std::string Visible() {
    const char* v = std::getenv("CUDA_VISIBLE_DEVICES");
    return v ? v : "<unset>";
  }
};
}  // namespace

RAY_REMOTE(VisibleGpus, GpuActor::Create, &GpuActor::Visible);

TEST_CASE("concurrent GPU tasks get distinct CUDA_VISIBLE_DEVICES") {
  CHECK(ray::ClusterResources()["GPU"] == 2);
  const std::string dir = lumen::testing::MakeEventDir("gpus");
  std::vector<ray::ObjectRef<std::string>> refs;
  for (int i = 0; i < 2; ++i) refs.push_back(ray::Task(VisibleGpus).SetResource("GPU", 1).Remote(dir, 2));
  std::set<std::string> seen;
  for (const auto& v : ray::Get(refs)) seen.insert(*v);
  CHECK(seen == std::set<std::string>{"5", "7"});
  auto both = ray::Task(VisibleGpus).SetResource("GPU", 2).Remote(std::string(), 1);
  std::string pair = *ray::Get(both);
  CHECK((pair == "5,7" || pair == "7,5"));
  CHECK(*ray::Get(ray::Task(VisibleGpus).Remote(std::string(), 1)) == "5,7");
}

TEST_CASE("an actor asking for a GPU sees its device in CUDA_VISIBLE_DEVICES for its life") {
  auto actor = ray::Actor(GpuActor::Create).SetResource("GPU", 1).Remote();
  std::string first = *ray::Get(actor.Task(&GpuActor::Visible).Remote());
  CHECK((first == "5" || first == "7"));
  // A GPU task meanwhile gets the other device; the actor keeps its own.
  std::string task = *ray::Get(ray::Task(VisibleGpus).SetResource("GPU", 1).Remote(std::string(), 1));
  CHECK((task == "5" || task == "7"));
  CHECK(task != first);
  CHECK(*ray::Get(actor.Task(&GpuActor::Visible).Remote()) == first);
  // A GPU-less actor sees the node's devices, as a GPU-less task does.
  auto plain = ray::Actor(GpuActor::Create).Remote();
  CHECK(*ray::Get(plain.Task(&GpuActor::Visible).Remote()) == "5,7");
  actor.Kill();
  plain.Kill();
}

TEST_CASE("tasks in a GPU bundle of a placement group see the bundle's device") {
  ray::PlacementGroup group = ray::CreatePlacementGroup(
      {"gpu_pair", {{{"CPU", 1}, {"GPU", 1}}, {{"CPU", 1}, {"GPU", 1}}}, ray::PlacementStrategy::PACK});
  REQUIRE(group.Wait(30));
  std::set<std::string> seen;
  for (int i = 0; i < 2; ++i) {
    seen.insert(*ray::Get(
        ray::Task(VisibleGpus).SetResource("GPU", 1).SetPlacementGroup(group, i).Remote(std::string(), 1)));
  }
  // Each bundle holds one of the node's devices: its tasks see that one.
  CHECK(seen == std::set<std::string>{"5", "7"});
  ray::RemovePlacementGroup(group.GetID());
}

int main(int argc, char** argv) {
  ::setenv("CUDA_VISIBLE_DEVICES", "5,7", 1);
  return lumen::testing::RunTaskTests(argc, argv, 4, 2);
}
