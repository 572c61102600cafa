// A driver for integration_memory_test (`lumen memory`), joining the
// cluster at RAY_ADDRESS: puts a 1 MiB vector and runs one task, holds both
// refs; then puts a small value, submits a task that takes it and waits for
// the file argv[1], and drops its own ref to that value (only the pending
// task holds it); puts 200 KiB that a task (max_retries 1) copies into a
// plasma result and drops it (only lineage holds it); prints "ready
// put=<hex id> return=<hex id> pid=<pid> arg=<hex id> lineage=<hex id>",
// then waits until the file argv[1] exists.
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

std::vector<uint8_t> CopyBytes(std::vector<uint8_t> bytes) { return bytes; }

int WaitForFile(int x, std::string path) {
  while (!Exists(path)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  return x;
}

}  // namespace

RAY_REMOTE(Twice, WaitForFile, CopyBytes);

int main(int argc, char** argv) {
  const std::string gate = argc > 1 ? argv[1] : "";
  ray::RayConfig config;
  ray::Init(config, argc, argv);
  auto put = ray::Put(std::vector<uint8_t>(1 << 20, 7));
  auto ret = ray::Task(Twice).Remote(21);
  if (*ray::Get(ret) != 42) return 1;
  // First (the cluster has one CPU, which the waiting task below takes):
  // a 200 KiB put copied by a task whose 200 KiB result goes to plasma,
  // with a retry left: once the driver drops the put, only lineage holds it.
  std::string lineage_id;
  auto copied = [&] {
    auto big = ray::Put(std::vector<uint8_t>(200 << 10, 9));
    lineage_id = big.ID();
    auto result = ray::Task(CopyBytes).SetMaxRetries(1).Remote(big);
    ray::Wait(std::vector<ray::ObjectRef<std::vector<uint8_t>>>{result}, 1, -1);
    return result;
  }();
  std::string arg_id;
  auto waiting = [&] {
    auto arg = ray::Put(5);
    arg_id = arg.ID();
    return ray::Task(WaitForFile).Remote(arg, gate);
  }();  // `arg` is gone: the task's hold is the only one left.
  std::printf("ready put=%s return=%s pid=%d arg=%s lineage=%s\n", put.ID().c_str(), ret.ID().c_str(),
              static_cast<int>(::getpid()), arg_id.c_str(), lineage_id.c_str());
  std::fflush(stdout);
  while (!Exists(gate)) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (*ray::Get(waiting) != 5) return 1;
  if (ray::Get(copied)->size() != (200 << 10)) return 1;
  ray::Shutdown();
  return 0;
}
