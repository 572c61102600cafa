#include "plasma/eviction_policy.h"

namespace lumen::plasma {

void LruEvictionPolicy::Add(const ObjectId& id, uint64_t size) {
  Remove(id);
  lru_.push_back(Entry{id, size});
  index_.emplace(id, std::prev(lru_.end()));
  evictable_bytes_ += size;
}

void LruEvictionPolicy::Remove(const ObjectId& id) {
  auto it = index_.find(id);
  if (it == index_.end()) return;
  evictable_bytes_ -= it->second->size;
  lru_.erase(it->second);
  index_.erase(it);
}

std::optional<ObjectId> LruEvictionPolicy::LeastRecentlyUsed() const {
  if (lru_.empty()) return std::nullopt;
  return lru_.front().id;
}

std::vector<ObjectId> LruEvictionPolicy::ChooseVictims(uint64_t bytes) const {
  std::vector<ObjectId> victims;
  uint64_t freed = 0;
  for (const Entry& entry : lru_) {
    if (freed >= bytes) break;
    victims.push_back(entry.id);
    freed += entry.size;
  }
  return victims;
}

}  // namespace lumen::plasma
