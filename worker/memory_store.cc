#include "worker/memory_store.h"

#include <algorithm>
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace lumen::worker {

void MemoryStore::Put(const ObjectId& id, StoredObjectPtr object) {
  std::vector<ReadyCallback> to_run;
  {
    absl::MutexLock lock(&mu_);
    objects_[id] = object;
    if (auto it = callbacks_.find(id); it != callbacks_.end()) {
      to_run = std::move(it->second);
      callbacks_.erase(it);
    }
    if (auto it = waiters_.find(id); it != waiters_.end()) {
      for (auto [waiter, index] : it->second) {
        if (waiter->values) (*waiter->values)[index] = object;
        if (waiter->flags) (*waiter->flags)[index] = true;
        if (--waiter->missing == 0) waiter->cv.Signal();
      }
      waiters_.erase(it);
    }
  }
  for (auto& cb : to_run) cb(object);
}

std::vector<std::pair<ObjectId, StoredObjectPtr>> MemoryStore::InPlasmaOn(const std::string& node) const {
  std::vector<std::pair<ObjectId, StoredObjectPtr>> out;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, object] : objects_) {
    if (object && object->in_plasma && object->node_id == node) out.emplace_back(id, object);
  }
  return out;
}

StoredObjectPtr MemoryStore::GetIfReady(const ObjectId& id) const {
  absl::MutexLock lock(&mu_);
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : it->second;
}

void MemoryStore::Block(Waiter& waiter, const std::vector<ObjectId>& ids, const std::vector<size_t>& indexes,
                        int64_t timeout_ms) {
  if (timeout_ms < 0) {
    while (waiter.missing > 0) waiter.cv.Wait(&mu_);
  } else {
    const absl::Time deadline = absl::Now() + absl::Milliseconds(timeout_ms);
    while (waiter.missing > 0) {
      if (waiter.cv.WaitWithDeadline(&mu_, deadline)) break;  // Timed out.
    }
  }
  if (waiter.missing <= 0 && waiter.values) return;  // Every registration was consumed.
  for (size_t index : indexes) {
    auto it = waiters_.find(ids[index]);
    if (it == waiters_.end()) continue;  // Put already consumed it.
    auto& list = it->second;
    list.erase(std::remove(list.begin(), list.end(), Registration{&waiter, index}), list.end());
    if (list.empty()) waiters_.erase(it);
  }
}

std::vector<StoredObjectPtr> MemoryStore::Wait(const std::vector<ObjectId>& ids,
                                               int64_t timeout_ms) {
  std::vector<StoredObjectPtr> out(ids.size());
  absl::MutexLock lock(&mu_);
  Waiter waiter;
  waiter.values = &out;
  std::vector<size_t> missing;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto it = objects_.find(ids[i]);
    if (it != objects_.end()) {
      out[i] = it->second;
    } else {
      missing.push_back(i);
    }
  }
  if (missing.empty() || timeout_ms == 0) return out;
  for (size_t i : missing) waiters_[ids[i]].emplace_back(&waiter, i);
  waiter.missing = static_cast<int64_t>(missing.size());
  Block(waiter, ids, missing, timeout_ms);
  return out;
}

std::vector<bool> MemoryStore::WaitAny(const std::vector<ObjectId>& ids, int num_ready,
                                       int64_t timeout_ms) {
  std::vector<bool> ready(ids.size(), false);
  absl::MutexLock lock(&mu_);
  // Stops at the num_ready-th ready id: callers only take that many.
  int count = 0;
  std::vector<size_t> missing;
  for (size_t i = 0; i < ids.size() && count < num_ready; ++i) {
    if (objects_.count(ids[i])) {
      ready[i] = true;
      ++count;
    } else {
      missing.push_back(i);
    }
  }
  if (count >= num_ready || timeout_ms == 0) return ready;
  Waiter waiter;
  waiter.flags = &ready;
  waiter.missing = num_ready - count;
  for (size_t i : missing) waiters_[ids[i]].emplace_back(&waiter, i);
  Block(waiter, ids, missing, timeout_ms);
  // Several Puts may have landed before we woke: keep the first num_ready.
  count = 0;
  for (size_t i = 0; i < ready.size(); ++i) {
    if (ready[i] && ++count > num_ready) ready[i] = false;
  }
  return ready;
}

void MemoryStore::OnReady(const ObjectId& id, ReadyCallback callback) {
  StoredObjectPtr ready;
  {
    absl::MutexLock lock(&mu_);
    auto it = objects_.find(id);
    if (it == objects_.end()) {
      callbacks_[id].push_back(std::move(callback));
      return;
    }
    ready = it->second;
  }
  callback(ready);
}

void MemoryStore::Erase(const ObjectId& id) {
  std::vector<ReadyCallback> never;
  {
    absl::MutexLock lock(&mu_);
    objects_.erase(id);
    if (auto it = callbacks_.find(id); it != callbacks_.end()) {
      never = std::move(it->second);
      callbacks_.erase(it);
    }
  }
  for (auto& cb : never) cb(nullptr);
}

size_t MemoryStore::Size() const {
  absl::MutexLock lock(&mu_);
  return objects_.size();
}

size_t MemoryStore::NumCallbacks() const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& [id, list] : callbacks_) n += list.size();
  return n;
}

}  // namespace lumen::worker
