// Tests of ObjectIndex: the table against a model, readers holding entries
// across the passes of a writer that erases (threads), and a process that
// dies holding the lock.
#include "plasma/object_index.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <barrier>
#include <cstring>
#include <map>
#include <random>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

namespace lumen::plasma {
namespace {

ObjectId IdOf(uint32_t n) {
  ObjectId id;
  std::memset(id.mutable_data(), 0, ObjectId::kSize);
  std::memcpy(id.mutable_data(), &n, sizeof(n));
  return id;
}

// Shared anonymous memory, so a forked child sees the same index.
struct SharedIndex {
  explicit SharedIndex(uint64_t capacity) : bytes(ObjectIndex::BytesFor(capacity)) {
    memory = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    REQUIRE(memory != MAP_FAILED);
    index = ObjectIndex::Initialize(memory, capacity);
  }
  ~SharedIndex() { ::munmap(memory, bytes); }
  uint64_t bytes;
  void* memory;
  ObjectIndex index;
};

void Put(ObjectIndex& index, uint32_t n, uint64_t offset) {
  IndexLock lock(index);
  IndexEntry* entry = index.Insert(IdOf(n));
  REQUIRE(entry != nullptr);
  entry->offset = offset;
  entry->state = IndexState::kSealed;
  index.Inserted();
}

TEST_CASE("the index agrees with a model under random inserts and erases", "[plasma][index]") {
  SharedIndex shared(4096);
  ObjectIndex& index = shared.index;
  std::map<uint32_t, uint64_t> model;
  std::mt19937 random(7);
  for (int step = 0; step < 200000; ++step) {
    const uint32_t n = random() % 5000;  // Dense enough for long probe runs.
    IndexLock lock(index);
    IndexEntry* entry = index.Find(IdOf(n));
    REQUIRE((entry != nullptr) == model.contains(n));
    if (entry != nullptr) {
      REQUIRE(entry->offset == model[n]);
      index.Erase(entry);
      model.erase(n);
    } else if (IndexEntry* fresh = index.Insert(IdOf(n))) {
      fresh->offset = step;
      fresh->state = IndexState::kSealed;
      index.Inserted();
      model[n] = step;
    } else {
      REQUIRE(index.full());
    }
  }
  IndexLock lock(index);
  REQUIRE(index.size() == model.size());
  for (const auto& [n, offset] : model) REQUIRE(index.Find(IdOf(n))->offset == offset);
}

TEST_CASE("clients stop inserting before the store's limit", "[plasma][index]") {
  SharedIndex shared(4096);
  ObjectIndex& index = shared.index;
  uint32_t n = 0;
  for (;; ++n) {
    IndexLock lock(index);
    IndexEntry* entry = index.Insert(IdOf(n), /*for_client=*/true);
    if (entry == nullptr) break;
    entry->state = IndexState::kSealed;
    index.Inserted();
  }
  CHECK(n == 4096 / 4 * 3 - 4096 / 16);
  IndexLock lock(index);
  CHECK(index.Insert(IdOf(n)) != nullptr);  // The store still has room.
}

// One reader of the race below: each round it takes holds on some sealed
// entries, keeps them across the writer's whole pass (looking up other
// entries meanwhile, as a client does), then checks that every entry it
// held is still there, unchanged, with its bit set, and releases it.
struct HoldingReader {
  static constexpr int kRounds = 20;
  static constexpr size_t kHolds = 64;

  void Run() {
    std::mt19937 random(slot);
    for (int round = 0; round < kRounds; ++round) {
      std::vector<uint32_t> held = TakeHolds(random);
      holds_taken += held.size();
      rounds.arrive_and_wait();  // The writer's pass starts with these held.
      while (!pass_done.load()) LookUp(random() % kObjects);
      rounds.arrive_and_wait();  // The pass is over.
      ReleaseHolds(held);
      rounds.arrive_and_wait();  // Nothing of this round is held any more.
    }
  }

  std::vector<uint32_t> TakeHolds(std::mt19937& random) {
    std::vector<uint32_t> held;
    for (int tries = 0; held.size() < kHolds && tries < 100000; ++tries) {
      const uint32_t n = random() % kObjects;
      IndexLock lock(index);
      IndexEntry* entry = index.Find(IdOf(n));
      if (entry == nullptr || entry->state != IndexState::kSealed || ObjectIndex::HasHolder(entry, slot)) continue;
      ObjectIndex::SetHolder(entry, slot);
      held.push_back(n);
    }
    return held;
  }

  // A short get and release under one lock, with a slot of its own so it
  // never touches the holds of this round.
  void LookUp(uint32_t n) {
    IndexLock lock(index);
    IndexEntry* entry = index.Find(IdOf(n));
    if (entry == nullptr) return;
    if (entry->offset != n * 64) ++bad;  // Moved entries keep their contents.
    ObjectIndex::SetHolder(entry, slot + kReaders);
    ObjectIndex::ClearHolder(entry, slot + kReaders);
  }

  void ReleaseHolds(const std::vector<uint32_t>& held) {
    IndexLock lock(index);
    for (uint32_t n : held) {
      IndexEntry* entry = index.Find(IdOf(n));  // It may have moved.
      if (entry == nullptr || entry->offset != n * 64 || !ObjectIndex::HasHolder(entry, slot)) {
        ++lost;
        continue;
      }
      ObjectIndex::ClearHolder(entry, slot);
    }
  }

  static constexpr uint32_t kObjects = 2000;
  static constexpr int kReaders = 3;
  ObjectIndex& index;
  std::barrier<>& rounds;
  const std::atomic<bool>& pass_done;
  std::atomic<uint64_t>& bad;
  std::atomic<uint64_t>& lost;
  std::atomic<uint64_t>& holds_taken;
  int slot;
};

TEST_CASE("the writer meets held entries and skips them; erasing moves holder bits with entries",
          "[plasma][index]") {
  SharedIndex shared(1 << 14);
  ObjectIndex& index = shared.index;
  constexpr uint32_t kObjects = HoldingReader::kObjects;
  constexpr int kReaders = HoldingReader::kReaders;
  for (uint32_t n = 0; n < kObjects; ++n) Put(index, n, n * 64);
  // Rounds: readers take holds | the writer's pass, readers look up | readers
  // release. The barrier orders the phases; the flag ends the lookups.
  std::barrier rounds(kReaders + 1);
  std::atomic<bool> pass_done = false;
  std::atomic<uint64_t> bad = 0, lost = 0, holds_taken = 0;
  std::vector<std::thread> readers;
  for (int slot = 1; slot <= kReaders; ++slot) {
    readers.emplace_back([&, slot] {
      HoldingReader{index, rounds, pass_done, bad, lost, holds_taken, slot}.Run();
    });
  }
  // The writer erases only unheld entries and puts erased ones back, like
  // the store.
  std::mt19937 random(99);
  uint64_t erased = 0, skipped_held = 0;
  for (int round = 0; round < HoldingReader::kRounds; ++round) {
    pass_done = false;
    rounds.arrive_and_wait();
    for (int step = 0; step < 5000; ++step) {
      const uint32_t n = random() % kObjects;
      IndexLock lock(index);
      IndexEntry* entry = index.Find(IdOf(n));
      if (entry == nullptr) {
        IndexEntry* fresh = index.Insert(IdOf(n));
        fresh->offset = n * 64;
        fresh->state = IndexState::kSealed;
        index.Inserted();
      } else if (!ObjectIndex::HasHolders(entry)) {
        index.Erase(entry);
        ++erased;
      } else {
        ++skipped_held;
      }
    }
    pass_done = true;
    rounds.arrive_and_wait();
    rounds.arrive_and_wait();
  }
  for (std::thread& reader : readers) reader.join();
  CHECK(holds_taken == uint64_t{kReaders} * HoldingReader::kRounds * HoldingReader::kHolds);
  CHECK(skipped_held > 1000);  // The writer did meet held entries...
  CHECK(lost == 0);            // ...and left every one of them in place.
  CHECK(bad == 0);
  CHECK(erased > 1000);
  // Every hold was released. (Slots left empty may keep stale bits: only
  // live entries count, and Insert clears a slot before reuse.)
  IndexLock lock(index);
  for (uint64_t i = 0; i < index.capacity(); ++i) {
    const IndexEntry* entry = index.entry(i);
    if (entry->state != IndexState::kEmpty) CHECK_FALSE(ObjectIndex::HasHolders(entry));
  }
}

TEST_CASE("a process that dies holding the lock does not wedge the index", "[plasma][index]") {
  SharedIndex shared(4096);
  ObjectIndex& index = shared.index;
  Put(index, 1, 64);
  pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    index.Lock();
    IndexEntry* entry = index.Insert(IdOf(2));
    entry->state = IndexState::kSealed;  // Dies before Inserted(): the count is off.
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  IndexLock lock(index);  // EOWNERDEAD: recounted, made consistent.
  CHECK(index.size() == 2);
  CHECK(index.Find(IdOf(2)) != nullptr);
}

TEST_CASE("holder bits are per slot", "[plasma][index]") {
  IndexEntry entry{};
  ObjectIndex::SetHolder(&entry, 1);
  ObjectIndex::SetHolder(&entry, 200);
  CHECK(ObjectIndex::HasHolder(&entry, 200));
  CHECK_FALSE(ObjectIndex::HasHolder(&entry, 2));
  ObjectIndex::ClearHolder(&entry, 1);
  CHECK(ObjectIndex::HasHolders(&entry));
  ObjectIndex::ClearHolder(&entry, 200);
  CHECK_FALSE(ObjectIndex::HasHolders(&entry));
}

}  // namespace
}  // namespace lumen::plasma
