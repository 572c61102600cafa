// raylet/pull_book.h
//
// PullBook is the bookkeeping of the objects a raylet pulls from other
// nodes (docs/objects.md, "Between nodes"), without I/O:
//   - dedup: every request for an object already being pulled waits on
//     that pull; only the first request starts one;
//   - admission: a pull that knows its size copies only while the bytes of
//     the pulls copying stay within the budget (a share of the local
//     store), else it queues; queued pulls are admitted in arrival order as
//     copies finish. A pull larger than the whole budget is admitted alone.
// The life of one pull:  AddWaiter (first) -> [probe the source: size]
//   -> RequestAdmission -> (queued -> admitted by a Finish) -> copy -> Finish.
// Threading: not thread-safe; the raylet loop owns it.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <vector>

#include <unordered_map>

#include "absl/status/status.h"
#include "common/id.h"

namespace lumen::raylet {

class PullBook {
 public:
  using Waiter = std::function<void(const absl::Status&)>;

  explicit PullBook(uint64_t budget_bytes) : budget_(budget_bytes) {}

  // Adds `waiter` to the pull of `id`; true when no pull of it was under
  // way (the caller starts one).
  bool AddWaiter(const ObjectId& id, Waiter waiter);
  // The pull of `id` (of `size` bytes) may copy now: true, or false when it
  // was queued (a later Finish returns it among `admitted`).
  bool RequestAdmission(const ObjectId& id, uint64_t size);

  struct Finished {
    std::vector<Waiter> waiters;
    std::vector<ObjectId> admitted;  // Queued pulls that may copy now.
  };
  // The pull of `id` ended (sealed, or failed): its waiters, to be called
  // with the outcome, and the budget it held goes to queued pulls.
  Finished Finish(const ObjectId& id);

  bool Pulling(const ObjectId& id) const { return pulls_.count(id) > 0; }
  uint64_t bytes_copying() const { return copying_; }
  size_t num_queued() const { return queue_.size(); }

 private:
  struct Pull {
    std::vector<Waiter> waiters;
    uint64_t admitted_bytes = 0;  // Counted in copying_ while admitted.
    bool admitted = false;
  };
  bool Fits(uint64_t size) const { return copying_ == 0 || copying_ + size <= budget_; }

  uint64_t budget_;
  uint64_t copying_ = 0;
  std::unordered_map<ObjectId, Pull> pulls_;
  std::deque<std::pair<ObjectId, uint64_t>> queue_;
};

}  // namespace lumen::raylet
