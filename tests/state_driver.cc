// A driver for integration_state_test (the state CLI over task events),
// joining the cluster at RAY_ADDRESS:
//   state_driver tasks N        N tasks of Plus, all got; prints "sum=<s>"
//   state_driver fail           one task of Fails, which throws; prints
//                               "caught" when ray::Get throws
//   state_driver actor GATE     an actor (max_restarts=1) that, restarted,
//                               waits until the file GATE exists; prints
//                               "pid=<its pid>", then after the restart
//                               "restarted pid=<new pid>"; then waits until
//                               GATE.done exists
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int Plus(int a, int b) { return a + b; }

int Fails() { throw std::runtime_error("failing on purpose"); }

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

void WaitFor(const std::string& path) {
  while (!Exists(path)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

}  // namespace

RAY_REMOTE(Plus, Fails);

class Gated {
 public:
  static Gated* Create(std::string gate) {
    if (ray::WasCurrentActorRestarted()) WaitFor(gate);  // Held in RESTARTING.
    return new Gated();
  }
  int Pid() { return ::getpid(); }
};
RAY_REMOTE(Gated::Create, &Gated::Pid);

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  ray::RayConfig config;
  ray::Init(config, argc, argv);
  if (mode == "tasks") {
    const int n = argc > 2 ? std::stoi(argv[2]) : 1000;
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < n; ++i) refs.push_back(ray::Task(Plus).Remote(i, 1));
    long sum = 0;
    for (auto& ref : refs) sum += *ray::Get(ref);
    std::printf("sum=%ld\n", sum);
  } else if (mode == "fail") {
    try {
      ray::Get(ray::Task(Fails).Remote());
      std::printf("no exception\n");
    } catch (const std::exception& e) {
      std::printf("caught\n");
    }
  } else if (mode == "actor" && argc > 2) {
    const std::string gate = argv[2];
    auto actor = ray::Actor(Gated::Create).SetMaxRestarts(1).Remote(gate);
    const int first = *ray::Get(actor.Task(&Gated::Pid).Remote());
    std::printf("pid=%d\n", first);
    std::fflush(stdout);
    int pid = first;
    // Calls made while it restarts fail or wait; ask until the new process answers.
    while (pid == first) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      try {
        pid = *ray::Get(actor.Task(&Gated::Pid).Remote());
      } catch (const std::exception&) {
      }
    }
    std::printf("restarted pid=%d\n", pid);
    std::fflush(stdout);
    WaitFor(gate + ".done");
  } else {
    std::fprintf(stderr, "usage: state_driver tasks N | fail | actor GATE\n");
    ray::Shutdown();
    return 2;
  }
  std::fflush(stdout);
  ray::Shutdown();
  return 0;
}
