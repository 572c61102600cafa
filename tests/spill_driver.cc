// A driver for integration_spill_test, joining the cluster at RAY_ADDRESS.
// It prints what it did, one "key=value" or word per line, and "ready"
// when the test may look. Modes:
//   hold      ray::Put 100 MB, "ready", then sleep until killed
//   hold_return  a task returns 100 MB (a primary in the store, owned by
//             this driver), Get it, "ready", then sleep until killed
//   spill N M put N objects of M MiB (distinct bytes), Get them all in a
//             shuffled order checking each one's hash ("mismatch=<i>" on a
//             wrong one), "read_ok", "ready", wait for the file named by
//             LUMEN_TEST_FREE, drop every ref, "freed", sleep until killed
//   cycles N  N times: put 1 MiB, get it, drop it; "cycles_ok", "ready", sleep
//   full N M  put N objects of M MiB until one fails: "put_error=<what>",
//             then Get the last one put back ("last_ok") and run a task
//             ("task_ok"), "ready", sleep
#include <ray/api.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace {

int AddOne(int x) { return x + 1; }

std::vector<uint8_t> Bytes(int seed, size_t size) {
  std::vector<uint8_t> out(size);
  uint64_t x = 0x9e3779b97f4a7c15ull * static_cast<uint64_t>(seed + 1);
  for (size_t i = 0; i < size; i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(out.data() + i, &x, std::min<size_t>(8, size - i));
  }
  return out;
}

uint64_t Hash(const std::vector<uint8_t>& data) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t b : data) h = (h ^ b) * 1099511628211ull;
  return h;
}

void Say(const std::string& line) {
  std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

[[noreturn]] void SleepForever() {
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(60));
}

void WaitForFile(const char* path) {
  while (path && ::access(path, F_OK) != 0) std::this_thread::sleep_for(std::chrono::milliseconds(20));
}

}  // namespace

std::vector<uint8_t> MakeBytes(int seed, int mib) { return Bytes(seed, static_cast<size_t>(mib) << 20); }

RAY_REMOTE(AddOne, MakeBytes);

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "hold";
  const int n = argc > 2 ? std::atoi(argv[2]) : 0;
  const size_t mib = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 1;
  ray::Init();
  if (mode == "hold") {
    auto ref = ray::Put(Bytes(0, 100u << 20));
    Say("ready");
    SleepForever();
  }
  if (mode == "hold_return") {
    auto ref = ray::Task(MakeBytes).Remote(0, 100);
    Say("size=" + std::to_string(ray::Get(ref)->size()));
    Say("ready");
    SleepForever();
  }
  if (mode == "spill") {
    std::vector<ray::ObjectRef<std::vector<uint8_t>>> refs;
    std::vector<uint64_t> hashes;
    for (int i = 0; i < n; ++i) {
      auto bytes = Bytes(i, mib << 20);
      hashes.push_back(Hash(bytes));
      refs.push_back(ray::Put(bytes));
    }
    std::vector<int> order(n);
    for (int i = 0; i < n; ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), std::mt19937(7));
    bool ok = true;
    for (int i : order) {
      if (Hash(*ray::Get(refs[i])) != hashes[i]) {
        Say("mismatch=" + std::to_string(i));
        ok = false;
      }
    }
    if (ok) Say("read_ok");
    Say("ready");
    WaitForFile(std::getenv("LUMEN_TEST_FREE"));
    refs.clear();
    Say("freed");
    SleepForever();
  }
  if (mode == "cycles") {
    for (int i = 0; i < n; ++i) {
      auto ref = ray::Put(Bytes(i, 1u << 20));
      if (ray::Get(ref)->size() != (1u << 20)) Say("bad_size");
    }
    Say("cycles_ok");
    Say("ready");
    SleepForever();
  }
  if (mode == "full") {
    std::vector<ray::ObjectRef<std::vector<uint8_t>>> refs;
    try {
      for (int i = 0; i < n; ++i) refs.push_back(ray::Put(Bytes(i, mib << 20)));
      Say("no_error");
    } catch (const std::exception& e) {
      std::string what = e.what();
      std::replace(what.begin(), what.end(), '\n', ' ');
      Say("put_error=" + what);
    }
    const int last = static_cast<int>(refs.size()) - 1;  // In memory: memory and disk are full.
    if (last >= 0 && Hash(*ray::Get(refs[last])) == Hash(Bytes(last, mib << 20))) Say("last_ok");
    if (*ray::Get(ray::Task(AddOne).Remote(1)) == 2) Say("task_ok");
    Say("ready");
    SleepForever();
  }
  return 2;
}
