#include "worker/memory_store.h"

#include <chrono>

namespace lumen::worker {

void MemoryStore::Put(const ObjectId& id, StoredObjectPtr object) {
  std::vector<ReadyCallback> to_run;
  {
    std::lock_guard<std::mutex> lock(mu_);
    objects_[id] = object;
    auto it = callbacks_.find(id);
    if (it != callbacks_.end()) {
      to_run = std::move(it->second);
      callbacks_.erase(it);
    }
  }
  cv_.notify_all();
  for (auto& cb : to_run) cb(object);
}

StoredObjectPtr MemoryStore::GetIfReady(const ObjectId& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = objects_.find(id);
  return it == objects_.end() ? nullptr : it->second;
}

std::vector<StoredObjectPtr> MemoryStore::Wait(const std::vector<ObjectId>& ids,
                                               int64_t timeout_ms) {
  std::vector<StoredObjectPtr> out(ids.size());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    size_t missing = 0;
    for (size_t i = 0; i < ids.size(); ++i) {
      if (out[i]) continue;
      auto it = objects_.find(ids[i]);
      if (it != objects_.end()) out[i] = it->second; else ++missing;
    }
    if (missing == 0) return out;
    if (timeout_ms < 0) {
      cv_.wait(lock);
    } else if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      for (size_t i = 0; i < ids.size(); ++i) {
        if (!out[i]) {
          auto it = objects_.find(ids[i]);
          if (it != objects_.end()) out[i] = it->second;
        }
      }
      return out;
    }
  }
}

std::vector<bool> MemoryStore::WaitAny(const std::vector<ObjectId>& ids, int num_ready,
                                       int64_t timeout_ms) {
  std::vector<bool> ready(ids.size(), false);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    // Stops at the num_ready-th ready id: callers only take that many.
    int count = 0;
    for (size_t i = 0; i < ids.size() && count < num_ready; ++i) {
      ready[i] = ready[i] || objects_.count(ids[i]) > 0;
      count += ready[i];
    }
    if (count >= num_ready) return ready;
    if (timeout_ms < 0) {
      cv_.wait(lock);
    } else if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return ready;
    }
  }
}

void MemoryStore::OnReady(const ObjectId& id, ReadyCallback callback) {
  StoredObjectPtr ready;
  {
    std::lock_guard<std::mutex> lock(mu_);
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
  std::lock_guard<std::mutex> lock(mu_);
  objects_.erase(id);
}

}  // namespace lumen::worker
