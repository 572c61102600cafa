// Objects in the data path on a real 4-CPU local cluster (512 MiB store):
// large arrays through ray::Put, task arguments and results; ArrayView
// parameters that read one object in shared memory from several tasks at
// once (the same file pages, no private copy); ray::GetView in the driver;
// a view kept by an actor past the call.
#include <ray/api.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

#include "tests/tasks_harness.h"

namespace {

constexpr size_t kBigCount = 8 * 1024 * 1024;  // 64 MiB of doubles.

// Where a pointer's bytes live: the mapping's device, inode and the
// pointer's offset in the mapped file.
struct Backing {
  std::string dev;
  uint64_t inode = 0;
  uint64_t file_offset = 0;
  MSGPACK_DEFINE(dev, inode, file_offset);
};

Backing BackingOf(const void* p) {
  const auto addr = reinterpret_cast<uintptr_t>(p);
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev;
    uint64_t inode = 0;
    in >> range >> perms >> offset >> dev >> inode;
    const size_t dash = range.find('-');
    const uintptr_t start = std::stoull(range.substr(0, dash), nullptr, 16);
    const uintptr_t end = std::stoull(range.substr(dash + 1), nullptr, 16);
    if (addr >= start && addr < end) {
      return {dev, inode, std::stoull(offset, nullptr, 16) + (addr - start)};
    }
  }
  return {};
}

// This process's private anonymous resident memory, in KiB.
int64_t RssAnonKb() {
  std::ifstream status("/proc/self/status");
  std::string key;
  while (status >> key) {
    if (key == "RssAnon:") {
      int64_t kb = 0;
      status >> kb;
      return kb;
    }
    status.ignore(1 << 16, '\n');
  }
  return -1;
}

struct ViewReport {
  double sum = 0;
  Backing backing;
  int64_t rss_anon_kb = 0;
  bool aligned = false;
  int pid = 0;
  MSGPACK_DEFINE(sum, backing, rss_anon_kb, aligned, pid);
};

ViewReport SumView(ray::ArrayView<double> values) {
  ViewReport r;
  r.sum = std::accumulate(values.begin(), values.end(), 0.0);
  r.backing = BackingOf(values.data());
  r.rss_anon_kb = RssAnonKb();
  r.aligned = reinterpret_cast<uintptr_t>(values.data()) % 64 == 0;
  r.pid = ::getpid();
  return r;
}

// Ray's way: a decoded copy.
ViewReport SumCopy(std::vector<double> values) {
  ViewReport r;
  r.sum = std::accumulate(values.begin(), values.end(), 0.0);
  r.rss_anon_kb = RssAnonKb();
  r.pid = ::getpid();
  return r;
}

std::vector<double> MakeArray(int64_t n, double start) {
  std::vector<double> v(static_cast<size_t>(n));
  for (size_t i = 0; i < v.size(); ++i) v[i] = start + static_cast<double>(i);
  return v;
}

ray::ArrayView<int64_t> Halves(ray::ArrayView<int64_t> v) {
  std::vector<int64_t> out(v.begin(), v.end());
  for (auto& x : out) x /= 2;
  return out;
}

int64_t CountInts(ray::ArrayView<int32_t> v) { return static_cast<int64_t>(v.size()); }

class Holder {
 public:
  static Holder* Create() { return new Holder(); }
  size_t Keep(ray::ArrayView<double> v) {
    kept_ = v;
    return kept_.size();
  }
  double Sum() const { return std::accumulate(kept_.begin(), kept_.end(), 0.0); }

 private:
  ray::ArrayView<double> kept_;
};

RAY_REMOTE(SumView, SumCopy, MakeArray, Halves, CountInts, Holder::Create, &Holder::Keep,
           &Holder::Sum);

double ExpectedSum(size_t n, double start) {
  return static_cast<double>(n) * start + static_cast<double>(n) * (static_cast<double>(n) - 1) / 2;
}

}  // namespace

TEST_CASE("tasks given one array by ref read the same shared pages, without a private copy") {
  auto ref = ray::Put(MakeArray(kBigCount, 1.0));
  std::vector<ray::ObjectRef<ViewReport>> refs;
  for (int i = 0; i < 5; ++i) refs.push_back(ray::Task(SumView).Remote(ref));
  auto copy = *ray::Get(ray::Task(SumCopy).Remote(ref));
  auto reports = ray::Get(refs);
  const double expected = ExpectedSum(kBigCount, 1.0);
  REQUIRE(copy.sum == expected);
  ray::ArrayView<double> here = ray::GetView(ref);
  Backing driver = BackingOf(here.data());
  REQUIRE(driver.inode != 0);  // A file mapping (the store's arena), not the heap.
  for (const auto& r : reports) {
    lumen::testing::RecordWorkerPid(r->pid);
    CHECK(r->sum == expected);
    CHECK(r->aligned);
    CHECK(r->backing.dev == driver.dev);
    CHECK(r->backing.inode == driver.inode);
    CHECK(r->backing.file_offset == driver.file_offset);
    // The decoded copy costs its 64 MiB of private memory; the view none.
    CHECK(r->rss_anon_kb + 48 * 1024 < copy.rss_anon_kb);
  }
  CHECK(reinterpret_cast<uintptr_t>(here.data()) % 64 == 0);
  CHECK(here.size() == kBigCount);
  CHECK(here[kBigCount - 1] == 1.0 + static_cast<double>(kBigCount - 1));
}

TEST_CASE("large arrays round-trip through Put, Get, GetView and task results") {
  auto original = MakeArray(3 * 1024 * 1024 + 7, -5.0);
  auto put = ray::Put(original);
  CHECK(*ray::Get(put) == original);
  CHECK(ray::GetView(put).ToVector() == original);

  auto made = ray::Task(MakeArray).Remote(int64_t{3 * 1024 * 1024 + 7}, -5.0);
  CHECK(*ray::Get(made) == original);
  ray::ArrayView<double> view = ray::GetView(made);
  CHECK(reinterpret_cast<uintptr_t>(view.data()) % 64 == 0);
  CHECK(view.ToVector() == original);
  CHECK(ray::Get(ray::Task(SumView).Remote(made))->sum == ExpectedSum(original.size(), -5.0));

  std::vector<int64_t> ints(1000001);
  std::iota(ints.begin(), ints.end(), int64_t{0});
  auto halves = ray::Task(Halves).Remote(ray::Put(ints));
  ray::ArrayView<int64_t> h = ray::GetView(halves);
  REQUIRE(h.size() == ints.size());
  CHECK(h[1000000] == 500000);
  CHECK(ray::Get(halves)->ToVector() == h.ToVector());
}

TEST_CASE("small and empty arrays take the inline path, by value or by ref") {
  CHECK(*ray::Task(CountInts).Remote(std::vector<int32_t>{1, 2, 3}).Get() == 3);
  CHECK(*ray::Task(CountInts).Remote(ray::Put(std::vector<int32_t>{})).Get() == 0);
  CHECK(ray::Get(ray::Put(std::vector<double>{}))->empty());
  CHECK(ray::GetView(ray::Put(std::vector<double>{2.5})).ToVector() == std::vector<double>{2.5});
  auto small = ray::Task(SumView).Remote(std::vector<double>{1, 2, 3});
  CHECK(small.Get()->sum == 6.0);
}

TEST_CASE("a view kept by an actor stays valid after the driver drops its ref") {
  auto holder = ray::Actor(Holder::Create).Remote();
  {
    auto ref = ray::Put(MakeArray(2 * 1024 * 1024, 3.0));
    CHECK(*ray::Get(holder.Task(&Holder::Keep).Remote(ref)) == 2u * 1024 * 1024);
  }
  CHECK(*ray::Get(holder.Task(&Holder::Sum).Remote()) == ExpectedSum(2 * 1024 * 1024, 3.0));
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 4); }
