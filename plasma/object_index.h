// plasma/object_index.h
//
// ObjectIndex is the store's object table as clients can read it without a
// round trip: an open-addressing hash table (linear probing) in a second
// shared-memory segment, id -> (offset, sizes, state, holder bits). The
// store creates it and passes its descriptor in the greeting; clients map it.
//
// Who writes what (always under the index lock):
//   - the store inserts the objects created over the socket, changes their
//     state, and is the only one that erases entries (backward shift, so
//     there are no tombstones);
//   - a client inserts the small objects it puts itself (sealed, with
//     `creator` = its slot, which tells the store the entry still has to be
//     adopted), and sets / clears its own bit in `holders` when it gets /
//     releases an object without asking the store.
// A client slot is 1..kMaxSlots-1 (0: the client has no slot and uses the
// socket only). Every critical section is crash-consistent: an insert
// becomes visible by its last write (`state`), and holder bits are
// idempotent, so when a client dies holding the lock (robust mutex:
// EOWNERDEAD) the next locker only recounts the entries and goes on; the
// store clears a dead client's bits by scanning the table.
//
// Threading: any thread of any process, between Lock() and Unlock(). Entry
// pointers are valid only until Unlock() (the store may move entries).
// Failure: Attach checks the header and the size against the mapping.
#pragma once

#include <pthread.h>

#include <cstdint>

#include "absl/status/statusor.h"
#include "common/id.h"

namespace lumen::plasma {

enum class IndexState : uint32_t { kEmpty = 0, kCreating = 1, kSealed = 2, kDeletePending = 3 };

struct IndexEntry {
  uint8_t id[ObjectId::kSize];
  IndexState state;
  uint64_t offset;
  uint64_t data_size;
  uint64_t metadata_size;
  uint16_t creator;  // Slot of the client that put it; 0 once the store knows it.
  uint16_t flags;    // kPinFlag.
  uint32_t reserved;
  uint64_t holders[4];  // Bit s: client slot s holds the object.
  uint8_t padding[32];
};
static_assert(sizeof(IndexEntry) == 128);

class ObjectIndex {
 public:
  static constexpr int kMaxSlots = 256;
  static constexpr uint16_t kPinFlag = 1;
  // The largest object (data + metadata) a client puts into its slab.
  static constexpr uint64_t kSlabObjectLimit = 4096;

  // Slots for an arena of `arena_bytes`: a power of two, one per 8 KiB of
  // arena, at least 4096 and at most 2^20. Three quarters may be used.
  static uint64_t CapacityForArena(uint64_t arena_bytes);
  static uint64_t BytesFor(uint64_t capacity);

  // The store: lays out an empty index over `memory` (BytesFor(capacity)).
  static ObjectIndex Initialize(void* memory, uint64_t capacity);
  // A client: uses the index the store laid out in `memory` of `bytes`.
  static absl::StatusOr<ObjectIndex> Attach(void* memory, uint64_t bytes);

  ObjectIndex() = default;
  bool valid() const { return header_ != nullptr; }

  void Lock();
  void Unlock();

  // The live entry of `id` (any state but kEmpty), or null.
  IndexEntry* Find(const ObjectId& id);
  // A free entry for `id` (which must be absent) with its id written and
  // state still kEmpty; the caller fills it, sets state last, then calls
  // Inserted(). Null when the table is at its load limit; clients stop a
  // sixteenth of the capacity earlier, so the store, which checks for room
  // before it creates an object, always finds the entry it checked for.
  IndexEntry* Insert(const ObjectId& id, bool for_client = false);
  void Inserted() { ++header_->count; }
  // Erases `entry` (the store only); other entries may move.
  void Erase(IndexEntry* entry);

  uint64_t size() const { return header_->count; }
  uint64_t capacity() const { return header_->capacity; }
  bool full() const { return header_->count >= header_->max_count; }
  bool full_for_clients() const { return header_->count + header_->capacity / 16 >= header_->max_count; }
  IndexEntry* entry(uint64_t slot) { return &entries_[slot]; }

  static void SetHolder(IndexEntry* entry, int slot) { entry->holders[slot / 64] |= 1ull << (slot % 64); }
  static void ClearHolder(IndexEntry* entry, int slot) { entry->holders[slot / 64] &= ~(1ull << (slot % 64)); }
  static bool HasHolder(const IndexEntry* entry, int slot) {
    return (entry->holders[slot / 64] >> (slot % 64)) & 1;
  }
  static bool HasHolders(const IndexEntry* entry) {
    return (entry->holders[0] | entry->holders[1] | entry->holders[2] | entry->holders[3]) != 0;
  }
  static ObjectId IdOf(const IndexEntry* entry);

 private:
  struct Header {
    uint64_t magic;
    uint64_t capacity;  // A power of two.
    uint64_t max_count;
    uint64_t count;
    pthread_mutex_t mutex;  // Robust, process-shared.
  };
  static constexpr uint64_t kHeaderBytes = 4096;
  static constexpr uint64_t kMagic = 0x6c756d656e696478;  // "lumenidx"

  ObjectIndex(Header* header, IndexEntry* entries) : header_(header), entries_(entries) {}
  void Recount();

  Header* header_ = nullptr;
  IndexEntry* entries_ = nullptr;
};

// Holds the lock of an index for a scope.
class IndexLock {
 public:
  explicit IndexLock(ObjectIndex& index) : index_(index) { index_.Lock(); }
  ~IndexLock() { index_.Unlock(); }
  IndexLock(const IndexLock&) = delete;
  IndexLock& operator=(const IndexLock&) = delete;

 private:
  ObjectIndex& index_;
};

}  // namespace lumen::plasma
