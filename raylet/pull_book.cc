#include "raylet/pull_book.h"

namespace lumen::raylet {

bool PullBook::AddWaiter(const ObjectId& id, Waiter waiter) {
  auto [it, inserted] = pulls_.try_emplace(id);
  it->second.waiters.push_back(std::move(waiter));
  return inserted;
}

bool PullBook::RequestAdmission(const ObjectId& id, uint64_t size) {
  auto it = pulls_.find(id);
  if (it == pulls_.end() || it->second.admitted) return false;
  if (!queue_.empty() || !Fits(size)) {  // No overtaking the queue.
    queue_.emplace_back(id, size);
    return false;
  }
  it->second.admitted = true;
  it->second.admitted_bytes = size;
  copying_ += size;
  return true;
}

PullBook::Finished PullBook::Finish(const ObjectId& id) {
  Finished out;
  auto it = pulls_.find(id);
  if (it == pulls_.end()) return out;
  out.waiters = std::move(it->second.waiters);
  copying_ -= it->second.admitted_bytes;
  pulls_.erase(it);
  for (auto q = queue_.begin(); q != queue_.end(); ++q) {
    if (q->first == id) {
      queue_.erase(q);
      break;
    }
  }
  while (!queue_.empty() && Fits(queue_.front().second)) {
    auto [next, size] = queue_.front();
    queue_.pop_front();
    Pull& pull = pulls_[next];
    pull.admitted = true;
    pull.admitted_bytes = size;
    copying_ += size;
    out.admitted.push_back(next);
  }
  return out;
}

}  // namespace lumen::raylet
