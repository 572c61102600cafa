// Driver of integration_lineage_test (docs/objects.md, "Lineage
// reconstruction"). Runs one task on a node with resource "r" (B or C),
// which appends its node's session dir to RUNS (so the test knows where it
// ran, and how often), waits for it without reading it (ray::Wait), prints
// "ready=1", waits for the file $LUMEN_TEST_SANDBOX/go (the test kills
// that node meanwhile), then reads it.
//   task RETRIES MiB RUNS  a task (max_retries RETRIES) returns MiB bytes:
//                          "expect=", then "sum=" or "error=<what>"
//   arg RETRIES MiB RUNS   as task, but first a task (on any live node)
//                          reads it as an argument: "arg_sum=" or "error="
//   chain MiB RUNS         Make, then Copy of its result on the same node;
//                          the Copy is read: "sum=" or "error="
//   put MiB RUNS           a task ray::Puts MiB bytes and returns the ref
//                          nested: "error=<what>" or "sum="
//   putarg MiB RUNS        the driver ray::Puts MiB bytes (on the head),
//                          a task (max_retries 1) Copies them, and the
//                          driver drops its put ref before the loss, so
//                          only the task's lineage holds it: "sum=" or
//                          "error="
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

// One line per run: "<session dir> <node id hex> <function>".
void LogRun(const std::string& runs, const char* function = "Make") {
  const char* dir = std::getenv("LUMEN_SESSION_DIR");
  const char* node = std::getenv("LUMEN_NODE_ID");
  const std::string line =
      std::string(dir ? dir : "?") + " " + (node ? node : "?") + " " + function + "\n";
  int fd = ::open(runs.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  if (fd >= 0) {
    (void)!::write(fd, line.data(), line.size());
    ::close(fd);
  }
}

Bytes Make(int64_t bytes, std::string runs) {
  LogRun(runs);
  return Fill(bytes);
}

Bytes Copy(ray::ArrayView<uint8_t> made, std::string runs) {
  LogRun(runs, "Copy");
  return Bytes(made.data(), made.data() + made.size());
}

std::vector<ray::ObjectRef<Bytes>> PutOne(int64_t bytes, std::string runs) {
  LogRun(runs);
  return {ray::Put(Fill(bytes))};
}

std::string Sum(ray::ArrayView<uint8_t> view) { return std::to_string(Checksum(view.data(), view.size())); }

RAY_REMOTE(Make, Copy, PutOne, Sum);

void Print(const std::string& key, const std::string& value) {
  std::printf("%s=%s\n", key.c_str(), value.c_str());
  std::fflush(stdout);
}

void WaitForGo() {
  const char* root = std::getenv("LUMEN_TEST_SANDBOX");
  const std::string go = std::string(root ? root : ".") + "/go";
  while (!std::ifstream(go)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

void ReadAfterLoss(const ray::ObjectRef<Bytes>& ref, bool as_arg = false) {
  ray::Wait(std::vector<ray::ObjectRef<Bytes>>{ref}, 1, -1);
  Print("ready", "1");
  WaitForGo();
  try {
    // A borrower's pull fails first: the worker asks the owner to rebuild.
    if (as_arg) Print("arg_sum", *ray::Task(Sum).Remote(ref).Get());
    ray::ArrayView<uint8_t> view = ray::GetView(ref);
    Print("sum", std::to_string(Checksum(view.data(), view.size())));
  } catch (const std::exception& e) {
    Print("error", e.what());
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  try {
    ray::RayConfig config;
    ray::Init(config, argc, argv);
    if ((mode == "task" || mode == "arg") && argc > 4) {
      const int64_t bytes = std::atoll(argv[3]) << 20;
      const Bytes expect = Fill(bytes);
      Print("expect", std::to_string(Checksum(expect.data(), expect.size())));
      ReadAfterLoss(ray::Task(Make).SetResource("r", 1).SetMaxRetries(std::atoi(argv[2])).Remote(
          bytes, std::string(argv[4])), mode == "arg");
    } else if (mode == "chain" && argc > 3) {
      // Copy runs on Make's node (soft affinity): both results are lost
      // with it, and rebuilding Copy's needs Make's rebuilt first.
      const int64_t bytes = std::atoll(argv[2]) << 20;
      const std::string runs = argv[3];
      const Bytes expect = Fill(bytes);
      Print("expect", std::to_string(Checksum(expect.data(), expect.size())));
      auto made = ray::Task(Make).SetResource("r", 1).Remote(bytes, runs);
      ray::Wait(std::vector<ray::ObjectRef<Bytes>>{made}, 1, -1);
      std::string first;
      std::getline(std::ifstream(runs), first);
      const std::string node = first.substr(first.find(' ') + 1, 56);
      ReadAfterLoss(ray::Task(Copy)
                        .SetSchedulingStrategy(ray::SchedulingStrategy::NodeAffinity(node, true))
                        .Remote(made, runs));
    } else if (mode == "putarg" && argc > 3) {
      const int64_t bytes = std::atoll(argv[2]) << 20;
      const std::string runs = argv[3];
      const Bytes expect = Fill(bytes);
      Print("expect", std::to_string(Checksum(expect.data(), expect.size())));
      std::optional<ray::ObjectRef<Bytes>> copy;
      {
        ray::ObjectRef<Bytes> put = ray::Put(expect);
        copy = ray::Task(Copy).SetResource("r", 1).SetMaxRetries(1).Remote(put, runs);
        ray::Wait(std::vector<ray::ObjectRef<Bytes>>{*copy}, 1, -1);
      }  // The driver's last ref to the put goes here.
      ReadAfterLoss(*copy);
    } else if (mode == "put" && argc > 3) {
      auto outer = ray::Task(PutOne).SetResource("r", 1).Remote(std::atoll(argv[2]) << 20,
                                                                 std::string(argv[3]));
      ReadAfterLoss((*outer.Get())[0]);
    } else {
      std::fprintf(stderr, "usage: lineage_driver task|arg RETRIES MiB RUNS | chain MiB RUNS | put|putarg MiB RUNS\n");
      return 2;
    }
    ray::Shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "driver error: %s\n", e.what());
    return 1;
  }
  return 0;
}
