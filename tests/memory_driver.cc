// A driver for integration_memory_test (`lumen memory`), joining the
// cluster at RAY_ADDRESS: puts a 1 MiB vector and runs one task, holds both
// refs; then puts a small value, submits a task that takes it and waits for
// the file argv[1], and drops its own ref to that value (only the pending
// task holds it); prints "ready put=<hex id> return=<hex id> pid=<pid>
// arg=<hex id>", then waits until the file argv[1] exists.
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

int Twice(int x) { return 2 * x; }

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

int WaitForFile(int x, std::string path) {
  while (!Exists(path)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return x;
}

}  // namespace

RAY_REMOTE(Twice, WaitForFile);

int main(int argc, char** argv) {
  const std::string gate = argc > 1 ? argv[1] : "";
  ray::RayConfig config;
  ray::Init(config, argc, argv);
  auto put = ray::Put(std::vector<uint8_t>(1 << 20, 7));
  auto ret = ray::Task(Twice).Remote(21);
  if (*ray::Get(ret) != 42) return 1;
  std::string arg_id;
  auto waiting = [&] {
    auto arg = ray::Put(5);
    arg_id = arg.ID();
    return ray::Task(WaitForFile).Remote(arg, gate);
  }();  // `arg` is gone: the task's hold is the only one left.
  std::printf("ready put=%s return=%s pid=%d arg=%s\n", put.ID().c_str(), ret.ID().c_str(),
              static_cast<int>(::getpid()), arg_id.c_str());
  std::fflush(stdout);
  while (!Exists(gate)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (*ray::Get(waiting) != 5) return 1;
  ray::Shutdown();
  return 0;
}
