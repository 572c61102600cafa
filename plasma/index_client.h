// plasma/index_client.h
//
// IndexClient is a client's view of the store's shared object index
// (plasma/object_index.h): it gets sealed objects and puts small ones
// without talking to the store. It maps the index once and owns that
// mapping; it does no socket I/O: PlasmaClient asks the store for slabs and
// announces puts (PutNotice) and last releases of delete-pending objects
// (UnholdNotice) itself.
// Threading: not thread-safe; PlasmaClient calls it under its mutex.
// Failure: an entry pointing outside the arena is treated as absent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "absl/status/statusor.h"
#include "common/id.h"
#include "plasma/object_index.h"

namespace lumen::plasma {

struct ObjectBuffer;

class IndexClient {
 public:
  // Maps `bytes` of the index behind `fd` (not closed) for slot `slot`.
  static absl::StatusOr<std::unique_ptr<IndexClient>> Map(int fd, uint64_t bytes, int slot, uint8_t* arena,
                                                          uint64_t arena_size);
  ~IndexClient();
  IndexClient(const IndexClient&) = delete;
  IndexClient& operator=(const IndexClient&) = delete;

  // For every id whose `(*out)[i]` is empty and whose object is sealed (not
  // delete-pending): sets our holder bit and fills the buffer. Returns how
  // many it filled; `got[i]` tells which.
  size_t Get(const std::vector<ObjectId>& ids, std::vector<std::optional<ObjectBuffer>>* out,
             std::vector<bool>* got);
  // Clears our bit on `ids`; appends to `unheld` the delete-pending ones
  // nobody holds any more (the store must hear of them).
  void Release(const std::vector<ObjectId>& ids, std::vector<ObjectId>* unheld);

  enum class PutOutcome { kPut, kExists, kNeedSlab, kIndexFull };
  // Copies the object into our slab and publishes it sealed in the index.
  PutOutcome Put(const ObjectId& id, const void* data, uint64_t size, const void* metadata,
                 uint64_t metadata_size, bool pin);
  bool Fits(uint64_t total) const { return total <= ObjectIndex::kSlabObjectLimit; }
  // A new slab granted by the store (the old one is retired by the store).
  void SetSlab(uint64_t offset, uint64_t size);

 private:
  IndexClient(void* mapping, uint64_t bytes, ObjectIndex index, int slot, uint8_t* arena, uint64_t arena_size)
      : mapping_(mapping), bytes_(bytes), index_(index), slot_(slot), arena_(arena), arena_size_(arena_size) {}
  bool InArena(uint64_t offset, uint64_t size) const;

  void* const mapping_;
  const uint64_t bytes_;
  ObjectIndex index_;
  const int slot_;
  uint8_t* const arena_;
  const uint64_t arena_size_;
  uint64_t slab_offset_ = 0;
  uint64_t slab_size_ = 0;
  uint64_t slab_used_ = 0;
};

}  // namespace lumen::plasma
