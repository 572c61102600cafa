// Objects in the data path on a real 4-CPU local cluster (512 MiB store):
// large arrays through ray::Put, task arguments and results; ArrayView
// parameters that read one object in shared memory from several tasks at
// once (the same file pages, no private copy); ray::GetView in the driver;
// a view kept by an actor past the call. Reference counting across
// processes, watched through the store's usage: an object goes when its
// last ref does, including refs an actor kept and refs nested in a returned
// vector; 100 tasks given one 100 MB ref keep one copy; a Get of an object
// whose owner was SIGKILLed fails with the owner-died error; a worker's
// open poll for refs the driver still holds at ray::Shutdown does not hang
// the stop (gRPC's Shutdown waits for open calls: it did).
#include <ray/api.h>
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <numeric>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "plasma/client.h"
#include "tests/tasks_harness.h"
#include "worker/runtime.h"

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

using ArrayRef = ray::ObjectRef<std::vector<double>>;

// Keeps refs it was given (nested in a vector argument) past the call.
class RefKeeper {
 public:
  static RefKeeper* Create() { return new RefKeeper(); }
  size_t Keep(std::vector<ArrayRef> refs) {
    kept_ = std::move(refs);
    return kept_.size();
  }
  double SumKept() const {
    auto values = ray::Get(kept_[0]);
    return std::accumulate(values->begin(), values->end(), 0.0);
  }
  bool Drop() {
    kept_.clear();
    return true;
  }

 private:
  std::vector<ArrayRef> kept_;
};

// Puts `n` arrays of `count` doubles (start 0, 1, ...) and returns their refs:
// this worker owns them; the caller holds them through the returned vector.
std::vector<ArrayRef> PutArrays(int n, int64_t count) {
  std::vector<ArrayRef> refs;
  for (int i = 0; i < n; ++i) refs.push_back(ray::Put(MakeArray(count, static_cast<double>(i))));
  return refs;
}

// An actor that owns what it puts; its pid lets the test SIGKILL it.
class Owner {
 public:
  static Owner* Create() { return new Owner(); }
  int Pid() const { return ::getpid(); }
  std::vector<ArrayRef> Make(int64_t count) { return PutArrays(1, count); }
};

RAY_REMOTE(SumView, SumCopy, MakeArray, Halves, CountInts, Holder::Create, &Holder::Keep,
           &Holder::Sum, RefKeeper::Create, &RefKeeper::Keep, &RefKeeper::SumKept, &RefKeeper::Drop,
           PutArrays, Owner::Create, &Owner::Pid, &Owner::Make);

// The node's object store, watched through its Stats request.
class Store {
 public:
  Store() {
    auto client = lumen::plasma::PlasmaClient::Connect(lumen::worker::GetRuntimeStats().session_dir +
                                                       "/sockets/plasma.sock");
    REQUIRE(client.ok());
    client_ = std::move(*client);
  }
  uint64_t InUse() {
    auto stats = client_->Stats();
    REQUIRE(stats.ok());
    return stats->in_use();
  }
  // Waits (bounded) until the usage is at most `bytes`; false if it never is.
  bool ComesBackTo(uint64_t bytes) {
    for (int i = 0; i < 3000; ++i) {
      if (InUse() <= bytes) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

 private:
  std::unique_ptr<lumen::plasma::PlasmaClient> client_;
};

constexpr uint64_t kMiB = 1 << 20;
constexpr int64_t kFourMiBDoubles = 512 * 1024;  // 4 MiB: above the inline limit, in the store.

// Waits until process `pid` (not our child) is gone or a zombie.
bool ProcessGone(pid_t pid) {
  for (int i = 0; i < 3000; ++i) {
    std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(stat, line)) return true;
    const size_t paren = line.rfind(')');
    if (paren != std::string::npos && line.compare(paren + 1, 3, " Z ") == 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

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

TEST_CASE("an object leaves the store when its last ref goes") {
  Store store;
  const uint64_t baseline = store.InUse();
  {
    auto ref = ray::Put(MakeArray(kFourMiBDoubles, 1.0));
    auto copy = ref;
    CHECK(store.InUse() >= baseline + 4 * kMiB);
    CHECK(ray::Task(SumView).Remote(copy).Get()->sum == ExpectedSum(kFourMiBDoubles, 1.0));
  }
  CHECK(store.ComesBackTo(baseline));
}

TEST_CASE("a ref an actor keeps holds the object until the actor drops it") {
  Store store;
  const uint64_t baseline = store.InUse();
  auto keeper = ray::Actor(RefKeeper::Create).Remote();
  {
    auto ref = ray::Put(MakeArray(kFourMiBDoubles, 2.0));
    REQUIRE(*keeper.Task(&RefKeeper::Keep).Remote(std::vector<ArrayRef>{ref}).Get() == 1u);
  }
  // The driver, which owns the object, holds no ref now: the actor's counts.
  CHECK(*keeper.Task(&RefKeeper::SumKept).Remote().Get() == ExpectedSum(kFourMiBDoubles, 2.0));
  CHECK(store.InUse() >= baseline + 4 * kMiB);
  CHECK(*keeper.Task(&RefKeeper::Drop).Remote().Get());
  CHECK(store.ComesBackTo(baseline));
}

TEST_CASE("refs nested in a returned vector live as long as the vector or the refs taken from it") {
  Store store;
  const uint64_t baseline = store.InUse();
  {
    std::vector<ArrayRef> inner;
    {
      auto outer = ray::Task(PutArrays).Remote(3, kFourMiBDoubles);
      inner = *ray::Get(outer);
      REQUIRE(inner.size() == 3u);
      CHECK(ray::Get(inner[2])->back() == 2.0 + static_cast<double>(kFourMiBDoubles - 1));
    }
    // The vector's object is gone; the refs taken out of it still hold.
    for (int i = 0; i < 3; ++i) {
      CHECK(ray::GetView(inner[i]).size() == static_cast<size_t>(kFourMiBDoubles));
      CHECK(ray::Get(inner[i])->front() == static_cast<double>(i));
    }
    CHECK(store.InUse() >= baseline + 12 * kMiB);
    // Small values, owned by the worker too, in its memory store.
    auto small = *ray::Task(PutArrays).Remote(2, int64_t{4}).Get();
    CHECK(ray::Get(small[1])->at(3) == 4.0);
  }
  CHECK(store.ComesBackTo(baseline));
}

TEST_CASE("100 tasks given one 100 MB ref read one copy of it") {
  Store store;
  constexpr int64_t kCount = 100 * 1000 * 1000 / 8;
  auto ref = ray::Put(MakeArray(kCount, 0.5));
  const uint64_t with_one_copy = store.InUse();
  std::atomic<bool> done{false};
  std::atomic<uint64_t> peak{with_one_copy};
  std::thread sampler([&] {
    Store watcher;
    while (!done) {
      uint64_t now = watcher.InUse();
      if (now > peak) peak = now;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
  });
  std::vector<ray::ObjectRef<ViewReport>> sums;
  for (int i = 0; i < 100; ++i) sums.push_back(ray::Task(SumView).Remote(ref));
  auto reports = ray::Get(sums);
  done = true;
  sampler.join();
  for (const auto& r : reports) CHECK(r->sum == ExpectedSum(kCount, 0.5));
  WARN("100 tasks on one 100 MB ref: store in use " << with_one_copy / kMiB << " MiB with the ref, peak "
                                                     << peak / kMiB << " MiB while the tasks ran");
  // One copy, plus the tasks' small results: nowhere near a second copy.
  CHECK(peak < with_one_copy + 16 * kMiB);
}

TEST_CASE("a Get of an object whose owner was SIGKILLed fails with the owner-died error") {
  auto owner = ray::Actor(Owner::Create).Remote();
  const int pid = *owner.Task(&Owner::Pid).Remote().Get();
  auto never_read = *owner.Task(&Owner::Make).Remote(kFourMiBDoubles).Get();
  auto read_once = *owner.Task(&Owner::Make).Remote(kFourMiBDoubles).Get();
  CHECK(ray::Get(read_once[0])->size() == static_cast<size_t>(kFourMiBDoubles));
  REQUIRE(::kill(pid, SIGKILL) == 0);
  REQUIRE(ProcessGone(pid));
  for (const ArrayRef& ref : {never_read[0], read_once[0]}) {
    auto start = std::chrono::steady_clock::now();
    std::string what;
    try {
      ray::Get(ref);
    } catch (const ray::internal::OwnerDiedException& e) {
      what = e.what();
    }
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    WARN("Get after the owner's SIGKILL failed after " << seconds << " s: " << what);
    CHECK(what.rfind("owner died", 0) == 0);
  }
}

TEST_CASE("refs a worker holds for the driver may outlive the driver's runtime") {
  // Kept past ray::Shutdown: the worker's poll for them is still open on
  // the driver when it stops, and must neither hang nor crash the stop.
  static auto* kept = new std::vector<ArrayRef>(*ray::Task(PutArrays).Remote(2, int64_t{4}).Get());
  CHECK(ray::Get((*kept)[0])->size() == 4u);
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 4); }
