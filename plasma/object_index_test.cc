// Tests of ObjectIndex: the table against a model, readers racing the
// writer in threads, and a process that dies holding the lock.
#include "plasma/object_index.h"

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
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

TEST_CASE("readers holding and releasing race the writer that erases", "[plasma][index]") {
  SharedIndex shared(1 << 14);
  ObjectIndex& index = shared.index;
  constexpr uint32_t kObjects = 2000;
  for (uint32_t n = 0; n < kObjects; ++n) Put(index, n, n * 64);
  std::atomic<bool> stop = false;
  std::atomic<uint64_t> bad = 0;
  std::vector<std::thread> readers;
  for (int slot = 1; slot <= 3; ++slot) {
    readers.emplace_back([&, slot] {
      std::mt19937 random(slot);
      while (!stop) {
        const uint32_t n = random() % kObjects;
        IndexLock lock(index);
        IndexEntry* entry = index.Find(IdOf(n));
        if (entry == nullptr) continue;
        if (entry->offset != n * 64) ++bad;  // Moved entries keep their contents.
        if (entry->state == IndexState::kSealed) ObjectIndex::SetHolder(entry, slot);
        ObjectIndex::ClearHolder(entry, slot);
      }
    });
  }
  // The writer erases only unheld entries and puts them back, like the store.
  std::mt19937 random(99);
  uint64_t erased = 0;
  for (int step = 0; step < 100000; ++step) {
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
    }
  }
  stop = true;
  for (std::thread& reader : readers) reader.join();
  CHECK(bad == 0);
  CHECK(erased > 1000);
  IndexLock lock(index);
  for (uint64_t i = 0; i < index.capacity(); ++i) CHECK_FALSE(ObjectIndex::HasHolders(index.entry(i)));
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
