// A driver for integration_memory_test (`lumen memory`), joining the
// cluster at RAY_ADDRESS: puts a 1 MiB vector and runs one task, holds both
// refs, prints "ready put=<hex id> return=<hex id> pid=<pid>", then waits
// until the file argv[1] exists.
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

namespace {

int Twice(int x) { return 2 * x; }

}  // namespace

RAY_REMOTE(Twice);

int main(int argc, char** argv) {
  const std::string gate = argc > 1 ? argv[1] : "";
  ray::RayConfig config;
  ray::Init(config, argc, argv);
  auto put = ray::Put(std::vector<uint8_t>(1 << 20, 7));
  auto ret = ray::Task(Twice).Remote(21);
  if (*ray::Get(ret) != 42) return 1;
  std::printf("ready put=%s return=%s pid=%d\n", put.ID().c_str(), ret.ID().c_str(), static_cast<int>(::getpid()));
  std::fflush(stdout);
  while (::access(gate.c_str(), F_OK) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ray::Shutdown();
  return 0;
}
