// A driver for integration_actor_fate_test, joining the cluster at
// RAY_ADDRESS in the namespace "fate":
//   actor_driver create-exit   creates a regular actor and the detached
//                              actor "keeper", prints their pids and
//                              "ready", returns (a clean exit, no Shutdown)
//   actor_driver create-wait   the same, then blocks until killed
//   actor_driver call NAME     finds NAME, prints "pid=<its pid>"
//   actor_driver kill NAME     finds NAME, calls it, kills it; prints
//                              "killed" and whether the name is free again
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

class Holder {
 public:
  static Holder* Create() { return new Holder(); }
  int Pid() { return ::getpid(); }
};
RAY_REMOTE(Holder::Create, &Holder::Pid);

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "";
  std::string name = argc > 2 ? argv[2] : "keeper";
  ray::RayConfig config;
  config.ray_namespace = "fate";
  ray::Init(config, argc, argv);
  if (mode == "create-exit" || mode == "create-wait") {
    auto regular = ray::Actor(Holder::Create).Remote();
    auto detached = ray::Actor(Holder::Create)
                        .SetName(name)
                        .SetLifetime(ray::ActorLifetime::DETACHED)
                        .Remote();
    std::printf("regular_pid=%d\n", *ray::Get(regular.Task(&Holder::Pid).Remote()));
    std::printf("detached_pid=%d\n", *ray::Get(detached.Task(&Holder::Pid).Remote()));
    std::printf("ready\n");
    std::fflush(stdout);
    if (mode == "create-wait") {
      while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return 0;
  }
  auto found = ray::GetActor<Holder>(name);
  if (!found) {
    std::printf("not found\n");
    return 2;
  }
  std::printf("pid=%d\n", *ray::Get(found->Task(&Holder::Pid).Remote()));
  if (mode == "kill") {
    found->Kill();
    std::printf("killed; name free: %s\n", ray::GetActor<Holder>(name) ? "no" : "yes");
  }
  std::fflush(stdout);
  ray::Shutdown();
  return 0;
}
