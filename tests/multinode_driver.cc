// A driver for integration_multinode_test and bench/multinode_bench: joins
// the cluster at RAY_ADDRESS and prints "key=value" lines. A node is named
// by its session directory (LUMEN_SESSION_DIR of the worker).
//   pinned     tasks needing the custom resource "gadget" and
//              "node:127.0.0.3": "gadget_node=", "ip_node=" per task
//   spread     100 tasks of a 50 ms busy loop: "node=" per task, "tasks_per_s="
//   survive    an actor needing "slot" (max_restarts=1) says "actor_node=";
//              then 60 tasks of 500 ms (max_retries=3) start (each adds
//              "start=<node>" to $LUMEN_TEST_SANDBOX/starts, and "end=<node>"
//              when its sleep is over), "ready" after
//              the first result; "task_node=" per task, "tasks_ok=", and the
//              actor's node after its node died: "actor_after="
//   pending    a task needing "late", which no node has yet: "submitted",
//              then "late_node=" once a node that has it joins
//   affinity   node affinity to node B (127.0.0.2), for tasks
//              ("affinity_node=") and an actor ("affinity_actor="); soft to
//              a node that does not exist ("soft_node="), hard to it
//              ("hard_error="); 6 SPREAD tasks of 500 ms ("spread_node=")
//   tiny N     N tiny tasks submitted at once: "tasks_per_s="
//   hold N     N tasks of 5 s (max_retries=3), "submitted" once sent;
//              "held=<node>|<start ms>" per task (wall clock of its last start)
#include <ray/api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

std::string SessionDir() {
  const char* dir = std::getenv("LUMEN_SESSION_DIR");
  return dir ? dir : "";
}

std::string Busy50ms() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(50);
  volatile uint64_t spin = 0;
  while (std::chrono::steady_clock::now() < until) spin = spin + 1;
  return SessionDir();
}

// Appends "<what>=<node>" to $LUMEN_TEST_SANDBOX/starts (set by the test
// harness for every process of a test), so a test sees where tasks started
// ("start") and which of them ran to their end ("end").
void Record(const char* what) {
  const char* root = std::getenv("LUMEN_TEST_SANDBOX");
  if (root == nullptr) return;
  if (FILE* out = std::fopen((std::string(root) + "/starts").c_str(), "a")) {
    std::fprintf(out, "%s=%s\n", what, SessionDir().c_str());
    std::fclose(out);
  }
}

std::string Sleep500ms() {
  Record("start");
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  Record("end");
  return SessionDir();
}

class Where {
 public:
  static Where* Create() { return new Where(); }
  std::string Node() { return SessionDir(); }
};

}  // namespace

int Tiny(int x) { return x + 1; }

std::string NodeIdHex() {
  const char* id = std::getenv("LUMEN_NODE_ID");
  return id ? id : "";
}

std::string Hold5s() {
  const auto start = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  Record("start");
  std::this_thread::sleep_for(std::chrono::seconds(5));
  return SessionDir() + "|" + std::to_string(start);
}

RAY_REMOTE(SessionDir, NodeIdHex, Busy50ms, Sleep500ms, Tiny, Hold5s, Where::Create, &Where::Node);

namespace {

void Print(const std::string& key, const std::string& value) {
  std::printf("%s=%s\n", key.c_str(), value.c_str());
  std::fflush(stdout);
}

void Pinned() {
  std::vector<ray::ObjectRef<std::string>> gadget;
  for (int i = 0; i < 6; ++i) gadget.push_back(ray::Task(SessionDir).SetResource("gadget", 1).Remote());
  for (const auto& node : ray::Get(gadget)) Print("gadget_node", *node);
  std::vector<ray::ObjectRef<std::string>> by_ip;
  for (int i = 0; i < 4; ++i) {
    by_ip.push_back(ray::Task(SessionDir).SetResource("node:127.0.0.3", 0.01).Remote());
  }
  for (const auto& node : ray::Get(by_ip)) Print("ip_node", *node);
}

void Spread(int n) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<ray::ObjectRef<std::string>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(ray::Task(Busy50ms).Remote());
  auto nodes = ray::Get(refs);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  for (const auto& node : nodes) Print("node", *node);
  Print("tasks_per_s", std::to_string(n / seconds));
}

void Survive() {
  auto actor = ray::Actor(Where::Create).SetResource("slot", 1).SetMaxRestarts(1).Remote();
  Print("actor_node", *actor.Task(&Where::Node).Remote().Get());
  std::vector<ray::ObjectRef<std::string>> refs;
  for (int i = 0; i < 60; ++i) refs.push_back(ray::Task(Sleep500ms).SetMaxRetries(3).Remote());
  ray::Get(refs[0]);
  Print("ready", "1");
  int ok = 0;
  for (auto& ref : refs) {
    try {
      Print("task_node", *ray::Get(ref));
      ++ok;
    } catch (const std::exception& e) {
      Print("task_error", e.what());
    }
  }
  Print("tasks_ok", std::to_string(ok));
  // The actor restarts on another node; calls fail while it is away.
  for (int attempt = 0; attempt < 100; ++attempt) {
    try {
      Print("actor_after", *actor.Task(&Where::Node).Remote().Get());
      return;
    } catch (const ray::internal::RayActorException& e) {
      Print("actor_error", e.what());
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
}

void TinyTasks(int n) {
  const auto start = std::chrono::steady_clock::now();
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(ray::Task(Tiny).Remote(i));
  ray::Get(refs);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  Print("tasks_per_s", std::to_string(n / seconds));
}

void Hold(int n) {
  std::vector<ray::ObjectRef<std::string>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(ray::Task(Hold5s).SetMaxRetries(3).Remote());
  Print("submitted", "1");
  for (const auto& held : ray::Get(refs)) Print("held", *held);
}

void Affinity() {
  const std::string b = *ray::Get(ray::Task(NodeIdHex).SetResource("node:127.0.0.2", 0.01).Remote());
  const auto on_b = ray::SchedulingStrategy::NodeAffinity(b);
  std::vector<ray::ObjectRef<std::string>> refs;
  for (int i = 0; i < 6; ++i) refs.push_back(ray::Task(SessionDir).SetSchedulingStrategy(on_b).Remote());
  for (const auto& node : ray::Get(refs)) Print("affinity_node", *node);
  auto actor = ray::Actor(Where::Create).SetSchedulingStrategy(on_b).Remote();
  Print("affinity_actor", *actor.Task(&Where::Node).Remote().Get());
  const std::string nobody = std::string(55, '0') + "1";
  Print("soft_node",
        *ray::Get(ray::Task(SessionDir)
                      .SetSchedulingStrategy(ray::SchedulingStrategy::NodeAffinity(nobody, true))
                      .Remote()));
  try {
    ray::Get(ray::Task(SessionDir)
                 .SetSchedulingStrategy(ray::SchedulingStrategy::NodeAffinity(nobody))
                 .Remote());
    Print("hard_error", "none");
  } catch (const std::exception& e) {
    Print("hard_error", e.what());
  }
  refs.clear();
  for (int i = 0; i < 6; ++i) {
    refs.push_back(ray::Task(Sleep500ms).SetSchedulingStrategy(ray::SchedulingStrategy::Spread()).Remote());
  }
  for (const auto& node : ray::Get(refs)) Print("spread_node", *node);
}

void Pending() {
  auto late = ray::Task(SessionDir).SetResource("late", 1).Remote();
  Print("submitted", "1");
  Print("late_node", *ray::Get(late));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    ray::RayConfig config;
    ray::Init(config, argc, argv);
    if (mode == "pinned") {
      Pinned();
    } else if (mode == "spread") {
      Spread(argc > 2 ? std::atoi(argv[2]) : 100);
    } else if (mode == "survive") {
      Survive();
    } else if (mode == "affinity") {
      Affinity();
    } else if (mode == "tiny") {
      TinyTasks(argc > 2 ? std::atoi(argv[2]) : 1000);
    } else if (mode == "hold") {
      Hold(argc > 2 ? std::atoi(argv[2]) : 4);
    } else if (mode == "pending") {
      Pending();
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
