// Driver of integration_object_locations_test (docs/objects.md, "Between
// nodes"): a task on node B (resource "b") returns MiB bytes to this driver
// on the head (A), appending its node's session dir to RUNS each time it
// runs; a task on node C (resource "c") reads it, so C's store gets a copy
// and this driver, the owner, learns of it. Prints "expect=" and "sum_c=",
// then, by mode:
//   copy MiB RUNS  "ready=1", waits for $LUMEN_TEST_SANDBOX/go (the test
//                  kills B meanwhile), reads the object: "sum=" or "error="
//                  (the task has max_retries 0: it cannot be run again)
//   borrow MiB RUNS as copy, but first a task on the head (resource "a"),
//                  a borrower, reads it: "arg_sum=" (or "error=")
//   free MiB RUNS  "held=1", waits for "go", drops its only ref:
//                  "dropped=1", waits for "go2" (the test watches the stores
//                  of B and C meanwhile), exits.
#include <fcntl.h>
#include <unistd.h>

#include <ray/api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/driver_bytes.h"

namespace {

using Bytes = std::vector<uint8_t>;

using lumen::testing::Checksum;

Bytes Fill(int64_t bytes) { return lumen::testing::FillBytes(bytes); }

Bytes Make(int64_t bytes, std::string runs) {
  const char* dir = std::getenv("LUMEN_SESSION_DIR");
  const std::string line = std::string(dir ? dir : "?") + "\n";
  int fd = ::open(runs.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    (void)!::write(fd, line.data(), line.size());
    ::close(fd);
  }
  return Fill(bytes);
}

std::string Sum(ray::ArrayView<uint8_t> view) { return std::to_string(Checksum(view.data(), view.size())); }

RAY_REMOTE(Make, Sum);

void Print(const std::string& key, const std::string& value) {
  std::printf("%s=%s\n", key.c_str(), value.c_str());
  std::fflush(stdout);
}

void WaitForFile(const char* name) {
  const char* root = std::getenv("LUMEN_TEST_SANDBOX");
  const std::string path = std::string(root ? root : ".") + "/" + name;
  while (!std::ifstream(path)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    ray::RayConfig config;
    ray::Init(config, argc, argv);  // Run as a worker, this never returns.
    if ((mode != "copy" && mode != "borrow" && mode != "free") || argc < 4) {
      std::fprintf(stderr, "usage: locations_driver copy|borrow|free MiB RUNS\n");
      return 2;
    }
    const int64_t bytes = std::atoll(argv[2]) << 20;
    const Bytes expect = Fill(bytes);
    Print("expect", std::to_string(Checksum(expect.data(), expect.size())));
    std::optional<ray::ObjectRef<Bytes>> ref =
        ray::Task(Make).SetResource("b", 1).SetMaxRetries(0).Remote(bytes, std::string(argv[3]));
    ray::Wait(std::vector<ray::ObjectRef<Bytes>>{*ref}, 1, -1);
    Print("sum_c", *ray::Task(Sum).SetResource("c", 1).Remote(*ref).Get());
    if (mode == "copy" || mode == "borrow") {
      Print("ready", "1");
      WaitForFile("go");
      try {
        // The borrower's pull from B fails; it asks the owner, which names C.
        if (mode == "borrow") Print("arg_sum", *ray::Task(Sum).SetResource("a", 1).Remote(*ref).Get(60000));
        ray::ArrayView<uint8_t> view = ray::GetView(*ref, 60000);
        Print("sum", std::to_string(Checksum(view.data(), view.size())));
      } catch (const std::exception& e) {
        Print("error", e.what());
      }
    } else {
      Print("held", "1");
      WaitForFile("go");
      ref.reset();
      Print("dropped", "1");
      WaitForFile("go2");
    }
    ray::Shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "driver error: %s\n", e.what());
    return 1;
  }
  return 0;
}
