#include "plasma/object_index.h"

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace lumen::plasma {

namespace {
// Mixes all 28 bytes of an id; the same in every process (no random seed).
uint64_t HashId(const uint8_t* id) {
  uint64_t words[4] = {0, 0, 0, 0};
  std::memcpy(words, id, ObjectId::kSize);
  uint64_t h = 0x9e3779b97f4a7c15ull;
  for (uint64_t word : words) {
    h ^= word;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
  }
  return h;
}
}  // namespace

uint64_t ObjectIndex::CapacityForArena(uint64_t arena_bytes) {
  uint64_t capacity = 4096;
  while (capacity < (1u << 20) && capacity * 8192 < arena_bytes) capacity *= 2;
  return capacity;
}

uint64_t ObjectIndex::BytesFor(uint64_t capacity) { return kHeaderBytes + capacity * sizeof(IndexEntry); }

ObjectIndex ObjectIndex::Initialize(void* memory, uint64_t capacity) {
  CHECK_EQ(capacity & (capacity - 1), 0u) << "index capacity must be a power of two";
  std::memset(memory, 0, BytesFor(capacity));
  auto* header = static_cast<Header*>(memory);
  header->capacity = capacity;
  header->max_count = capacity / 4 * 3;
  pthread_mutexattr_t attributes;
  pthread_mutexattr_init(&attributes);
  pthread_mutexattr_setpshared(&attributes, PTHREAD_PROCESS_SHARED);
  pthread_mutexattr_setrobust(&attributes, PTHREAD_MUTEX_ROBUST);
  CHECK_EQ(pthread_mutex_init(&header->mutex, &attributes), 0);
  pthread_mutexattr_destroy(&attributes);
  __atomic_store_n(&header->magic, kMagic, __ATOMIC_RELEASE);
  return ObjectIndex(header, reinterpret_cast<IndexEntry*>(static_cast<uint8_t*>(memory) + kHeaderBytes));
}

absl::StatusOr<ObjectIndex> ObjectIndex::Attach(void* memory, uint64_t bytes) {
  if (bytes < kHeaderBytes) return absl::InvalidArgumentError("object index too small");
  auto* header = static_cast<Header*>(memory);
  const uint64_t capacity = header->capacity;
  if (__atomic_load_n(&header->magic, __ATOMIC_ACQUIRE) != kMagic || capacity == 0 ||
      (capacity & (capacity - 1)) != 0 || capacity > (bytes - kHeaderBytes) / sizeof(IndexEntry)) {
    return absl::InvalidArgumentError(absl::StrCat("object index header does not match its ", bytes, " bytes"));
  }
  return ObjectIndex(header, reinterpret_cast<IndexEntry*>(static_cast<uint8_t*>(memory) + kHeaderBytes));
}

void ObjectIndex::Lock() {
  const int locked = pthread_mutex_lock(&header_->mutex);
  if (locked == EOWNERDEAD) {
    // A client died inside its critical section; every section leaves the
    // table usable, only the count may be off by the insert it was doing.
    Recount();
    pthread_mutex_consistent(&header_->mutex);
    return;
  }
  CHECK_EQ(locked, 0) << "object index lock: " << std::strerror(locked);
}

void ObjectIndex::Unlock() { pthread_mutex_unlock(&header_->mutex); }

void ObjectIndex::Recount() {
  uint64_t count = 0;
  for (uint64_t i = 0; i < header_->capacity; ++i) count += entries_[i].state != IndexState::kEmpty;
  header_->count = count;
}

ObjectId ObjectIndex::IdOf(const IndexEntry* entry) {
  ObjectId id;
  std::memcpy(id.mutable_data(), entry->id, ObjectId::kSize);
  return id;
}

IndexEntry* ObjectIndex::Find(const ObjectId& id) {
  const uint64_t mask = header_->capacity - 1;
  uint64_t slot = HashId(id.data()) & mask;
  for (uint64_t probes = 0; probes < header_->capacity; ++probes, slot = (slot + 1) & mask) {
    IndexEntry* entry = &entries_[slot];
    if (entry->state == IndexState::kEmpty) return nullptr;
    if (std::memcmp(entry->id, id.data(), ObjectId::kSize) == 0) return entry;
  }
  return nullptr;
}

IndexEntry* ObjectIndex::Insert(const ObjectId& id, bool for_client) {
  if (for_client ? full_for_clients() : full()) return nullptr;
  const uint64_t mask = header_->capacity - 1;
  uint64_t slot = HashId(id.data()) & mask;
  for (uint64_t probes = 0; probes < header_->capacity; ++probes, slot = (slot + 1) & mask) {
    IndexEntry* entry = &entries_[slot];
    if (entry->state != IndexState::kEmpty) continue;
    std::memset(entry, 0, sizeof(IndexEntry));
    std::memcpy(entry->id, id.data(), ObjectId::kSize);
    return entry;
  }
  return nullptr;
}

// Backward-shift deletion: moves later entries of the probe run into the
// hole when their home slot allows it, so lookups never need tombstones.
void ObjectIndex::Erase(IndexEntry* entry) {
  const uint64_t mask = header_->capacity - 1;
  uint64_t hole = static_cast<uint64_t>(entry - entries_);
  entries_[hole].state = IndexState::kEmpty;
  --header_->count;
  uint64_t next = (hole + 1) & mask;
  for (uint64_t steps = 0; steps < header_->capacity && entries_[next].state != IndexState::kEmpty;
       ++steps, next = (next + 1) & mask) {
    const uint64_t home = HashId(entries_[next].id) & mask;
    // `next` may move to `hole` unless its home lies cyclically in (hole, next].
    const bool home_after_hole = hole <= next ? (home > hole && home <= next) : (home > hole || home <= next);
    if (home_after_hole) continue;
    entries_[hole] = entries_[next];
    entries_[next].state = IndexState::kEmpty;
    hole = next;
  }
}

}  // namespace lumen::plasma
