// A driver for integration_logs_test: an actor prints `lines` numbered
// lines to its stdout (its worker's log file) and returns its pid, and so
// does a task, with 3 lines; the driver prints "actor=<hex id> pid=<pid>"
// and "task=<hex id> task_pid=<pid>" and exits.
// Usage: logs_driver LINES   (RAY_ADDRESS names the cluster)
#include <ray/api.h>
#include <unistd.h>

#include <iostream>
#include <string>

class Chatty {
 public:
  static Chatty* Create() { return new Chatty(); }
  int Print(int lines) {
    for (int i = 0; i < lines; ++i) std::cout << "chatty line " << i << " of the actor's output\n";
    std::cout << std::flush;
    return static_cast<int>(::getpid());
  }
};

int Shout(int lines) {
  for (int i = 0; i < lines; ++i) std::cout << "shout line " << i << " of the task's output\n";
  std::cout << std::flush;
  return static_cast<int>(::getpid());
}

RAY_REMOTE(Chatty::Create, &Chatty::Print, Shout);

int main(int argc, char** argv) {
  const int lines = argc > 1 ? std::stoi(argv[1]) : 100;
  ray::RayConfig config;
  ray::Init(config, argc, argv);
  auto actor = ray::Actor(Chatty::Create).Remote();
  const int pid = *ray::Get(actor.Task(&Chatty::Print).Remote(lines));
  std::cout << "actor=" << ray::internal::IdToHex(actor.ID()) << " pid=" << pid << std::endl;
  auto shouted = ray::Task(Shout).Remote(3);
  const int task_pid = *ray::Get(shouted);
  // An object id is its task's id and a 4-byte index (common/id.h).
  std::cout << "task=" << shouted.ID().substr(0, 48) << " task_pid=" << task_pid << std::endl;
  ray::Shutdown();
  return 0;
}
