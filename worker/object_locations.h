// worker/object_locations.h
//
// The owner's record of where copies of its plasma objects live, beyond
// the node that made each one (StoredObject.node_id, "the primary"), and
// the batched frees of those copies (docs/objects.md, "Between nodes").
//
// ObjectLocations: a node that pulled an object into its store is reported
// to the owner (AddObjectLocation, sent by the process that asked for the
// pull); the owner keeps the node here. When a pull from the recorded node
// fails (it died, or its store lost the object), FailOver makes the oldest
// known copy the recorded location instead of rebuilding the object; when
// the object goes out of scope, Take hands back every copy so the owner can
// free it. A node whose pull failed is forgotten for that object only; a
// node the GCS reports dead is forgotten for every object (ForgetNode). Cost: nothing for an
// object never pulled elsewhere (Empty() is one relaxed atomic load on the
// free path); one short string per copy.
//
// RemoteFrees: deletes of copies on other nodes wait here, grouped by node,
// until the owner's loop flushes them: one FreeObjects call per node and
// batch of at most kMaxBatch ids.
//
// Threading: both are thread-safe (one mutex each). Callbacks given to
// FailOver run under its lock and must not call back into it.
// Failure: pure bookkeeping, nothing fails here.
#pragma once

#include <atomic>
#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/id.h"

namespace lumen::worker {

class ObjectLocations {
 public:
  // `node` (binary NodeId) holds a copy of `id`. False when known already.
  bool Add(const ObjectId& id, const std::string& node);
  // The known copies of `id`, first reported first.
  std::vector<std::string> Get(const ObjectId& id) const;
  // `id` went out of scope: forgets it and returns its copies.
  std::vector<std::string> Take(const ObjectId& id);
  // The copy on `lost` could not be read. Forgets `lost` for `id`; then, if
  // `still_lost()` (the owner still records `lost` as the location) and a
  // copy is known, removes the oldest from the list, calls `use(node)` to
  // make it the recorded location, and returns it. Both callbacks run under
  // the lock, so concurrent Gets of one lost object pick one copy.
  std::optional<std::string> FailOver(const ObjectId& id, const std::string& lost,
                                      const std::function<bool()>& still_lost,
                                      const std::function<void(const std::string&)>& use);
  // `node` died: forgets it for every object. Returns how many copies went.
  // A scan of every object with a copy known, once per node death.
  size_t ForgetNode(const std::string& node);
  bool Empty() const { return size_.load(std::memory_order_relaxed) == 0; }
  size_t Size() const { return size_.load(std::memory_order_relaxed); }

 private:
  void UpdateSize() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    size_.store(copies_.size(), std::memory_order_relaxed);
  }

  mutable absl::Mutex mu_;
  absl::flat_hash_map<ObjectId, std::vector<std::string>, std::hash<ObjectId>> copies_
      ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> size_{0};
};

class RemoteFrees {
 public:
  static constexpr size_t kMaxBatch = 1000;
  // Queues the delete of `id` on `node`. True when nothing was queued
  // before: the caller then schedules one Flush.
  bool Add(const std::string& node, const ObjectId& id);
  // Hands every queued delete to `send`, one call per node and batch of at
  // most kMaxBatch ids, and empties the queue.
  using SendFn = std::function<void(const std::string& node, std::vector<ObjectId> ids)>;
  void Flush(const SendFn& send);

 private:
  absl::Mutex mu_;
  std::vector<std::pair<std::string, std::vector<ObjectId>>> by_node_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lumen::worker
