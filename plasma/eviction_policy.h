// plasma/eviction_policy.h
//
// LruEvictionPolicy orders the objects the store may evict: sealed, held by
// no client and not pinned. The store adds an object when it becomes
// evictable (its last holder released it, which counts as its last use) and
// removes it when it is held, pinned or gone. Victims are chosen least
// recently used first. The policy is pure bookkeeping with no I/O and no
// clock, so it is tested table-driven. Threading: the store loop only.
#pragma once

#include <cstdint>
#include <list>
#include <optional>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/id.h"

namespace lumen::plasma {

class LruEvictionPolicy {
 public:
  // Makes `id` evictable as the most recently used. Re-adding moves it.
  void Add(const ObjectId& id, uint64_t size);
  // Makes `id` no longer evictable; unknown ids are ignored.
  void Remove(const ObjectId& id);
  bool Contains(const ObjectId& id) const { return index_.contains(id); }

  // The least recently used evictable object, if any.
  std::optional<ObjectId> LeastRecentlyUsed() const;
  // The least recently used objects whose sizes add up to at least `bytes`,
  // oldest first; all of them when they do not add up. Changes nothing.
  std::vector<ObjectId> ChooseVictims(uint64_t bytes) const;

  uint64_t evictable_bytes() const { return evictable_bytes_; }
  size_t size() const { return index_.size(); }

 private:
  struct Entry {
    ObjectId id;
    uint64_t size;
  };
  std::list<Entry> lru_;  // Front: least recently used.
  absl::flat_hash_map<ObjectId, std::list<Entry>::iterator> index_;
  uint64_t evictable_bytes_ = 0;
};

}  // namespace lumen::plasma
