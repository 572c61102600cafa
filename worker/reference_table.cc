#include "worker/reference_table.h"

namespace lumen::worker {

void ReferenceTable::AddOwned(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_[id].owned = true;
}

void ReferenceTable::MarkInPlasma(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.in_plasma = true;
}

void ReferenceTable::Add(const ObjectId& id) {
  std::lock_guard<std::mutex> lock(mu_);
  ++entries_[id].count;
}

void ReferenceTable::Remove(const ObjectId& id) {
  Entry freed;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    if (--it->second.count > 0) return;
    freed = it->second;
    entries_.erase(it);
  }
  on_free_(id, freed.owned, freed.in_plasma);
}

bool ReferenceTable::IsOwnedAndAlive(const ObjectId& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.owned;
}

bool ReferenceTable::IsReferenced(const ObjectId& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.count(id) > 0;
}

size_t ReferenceTable::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return entries_.size();
}

}  // namespace lumen::worker
