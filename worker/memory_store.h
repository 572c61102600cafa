// worker/memory_store.h
//
// The in-process store of a driver or worker: the values of objects this
// process owns or has fetched. A small value lives here inline; a large one
// is only marked `in_plasma` (its bytes stay in the node's plasma store); a
// failed task leaves its error here.
//
// Cost: every operation is O(1) per id it names, whatever the number of
// objects stored or awaited. A blocked Wait/WaitAny registers itself on each
// id it still misses; Put hands the value straight to the waiters of its id
// and wakes a waiter only when its count of missing ids reaches zero, so N
// Puts awaited by one Wait of N ids cost O(N) in all, not O(N^2).
// Threading: all methods are thread-safe; callbacks run on the thread that
// calls Put (never under the lock).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/id.h"
#include "proto/common.pb.h"

namespace lumen::worker {

struct StoredObject {
  std::string data;        // Inline bytes; empty when in_plasma.
  bool in_plasma = false;
  std::string node_id;     // in_plasma: the node (binary id) whose store holds it.
  rpc::ErrorInfo error;    // type NONE when the object holds a value.
  bool IsError() const { return error.type() != rpc::ErrorInfo::NONE; }
};
using StoredObjectPtr = std::shared_ptr<const StoredObject>;

class MemoryStore {
 public:
  using ReadyCallback = std::function<void(StoredObjectPtr)>;

  // Stores `object` and wakes everyone waiting for `id`. A second Put of
  // the same id replaces the value (a retried task's result).
  void Put(const ObjectId& id, StoredObjectPtr object);
  StoredObjectPtr GetIfReady(const ObjectId& id) const;

  // Blocks until every id is ready or `timeout_ms` passes (< 0: forever).
  // Returns one entry per id; nullptr for those still missing.
  std::vector<StoredObjectPtr> Wait(const std::vector<ObjectId>& ids, int64_t timeout_ms);
  // Blocks until `num_ready` of the ids are ready or the timeout passes.
  // Flags at most num_ready ids, the first ready ones in order.
  std::vector<bool> WaitAny(const std::vector<ObjectId>& ids, int num_ready, int64_t timeout_ms);

  // Runs `callback` once `id` is ready (at once if it is), or with nullptr
  // when `id` is erased first (its last reference went away: it will never
  // be ready here).
  void OnReady(const ObjectId& id, ReadyCallback callback);

  // The values in plasma whose recorded location is `node` (binary NodeId):
  // a scan of every value, once per node death.
  std::vector<std::pair<ObjectId, StoredObjectPtr>> InPlasmaOn(const std::string& node) const;

  // Drops the value of `id` and answers its OnReady callbacks with nullptr.
  void Erase(const ObjectId& id);
  // Objects stored now, and OnReady callbacks waiting (tests, leak checks).
  size_t Size() const;
  size_t NumCallbacks() const;

 private:
  // One blocked Wait or WaitAny; lives on its caller's stack, registered
  // under every id it misses. Guarded by mu_.
  struct Waiter {
    std::vector<StoredObjectPtr>* values = nullptr;  // Wait: filled by Put.
    std::vector<bool>* flags = nullptr;              // WaitAny: set by Put.
    int64_t missing = 0;                             // Puts still needed.
    absl::CondVar cv;
  };
  using Registration = std::pair<Waiter*, size_t>;  // The waiter, index of the id.

  // Blocks on `waiter` until it misses nothing or the deadline passes, then
  // unregisters it from the ids at `indexes` it still misses.
  void Block(Waiter& waiter, const std::vector<ObjectId>& ids, const std::vector<size_t>& indexes,
             int64_t timeout_ms) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  absl::flat_hash_map<ObjectId, StoredObjectPtr, std::hash<ObjectId>> objects_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<ObjectId, std::vector<ReadyCallback>> callbacks_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<ObjectId, std::vector<Registration>> waiters_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lumen::worker
