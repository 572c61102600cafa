// worker/reference_table.h
//
// Local reference counts of the ObjectRefs alive in this process, and which
// objects it owns. When the count of an owned object drops to zero the
// object is freed: its value leaves the memory store and, if it lives in
// plasma, the plasma copy is deleted. Borrowed objects only lose their
// cached value. Pending tasks hold a reference on their ref arguments.
// (Distributed counting across borrowers is future work: docs/objects.md.)
// Threading: thread-safe; the free callback runs outside the lock.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include "absl/container/flat_hash_map.h"

#include "common/id.h"

namespace lumen::worker {

class ReferenceTable {
 public:
  // Called when the last reference to `id` goes away.
  using FreeCallback = std::function<void(const ObjectId& id, bool owned, bool in_plasma)>;
  explicit ReferenceTable(FreeCallback on_free) : on_free_(std::move(on_free)) {}

  // Records an object this process owns, with zero references so far.
  void AddOwned(const ObjectId& id);
  void MarkInPlasma(const ObjectId& id);
  void Add(const ObjectId& id);
  void Remove(const ObjectId& id);
  // True while `id` is owned here and still referenced or pending.
  bool IsOwnedAndAlive(const ObjectId& id) const;
  // True while any reference to `id` (owned or borrowed) is alive here.
  bool IsReferenced(const ObjectId& id) const;
  size_t Size() const;

 private:
  struct Entry {
    int count = 0;
    bool owned = false;
    bool in_plasma = false;
  };
  mutable std::mutex mu_;
  // Open addressing: one probe per lookup, no node allocated per object.
  absl::flat_hash_map<ObjectId, Entry, std::hash<ObjectId>> entries_;
  FreeCallback on_free_;
};

}  // namespace lumen::worker
