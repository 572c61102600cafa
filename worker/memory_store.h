// worker/memory_store.h
//
// The in-process store of a driver or worker: the values of objects this
// process owns or has fetched. A small value lives here inline; a large one
// is only marked `in_plasma` (its bytes stay in the node's plasma store); a
// failed task leaves its error here. Owners register their pending return
// ids so that waiters can tell "not yet" from "unknown".
// Threading: all methods are thread-safe; callbacks run on the thread that
// calls Put (never under the lock).
#pragma once

#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/id.h"
#include "proto/common.pb.h"

namespace lumen::worker {

struct StoredObject {
  std::string data;        // Inline bytes; empty when in_plasma.
  bool in_plasma = false;
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

  // Runs `callback` once `id` is ready (at once if it is).
  void OnReady(const ObjectId& id, ReadyCallback callback);

  void Erase(const ObjectId& id);

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::unordered_map<ObjectId, StoredObjectPtr> objects_;
  std::unordered_map<ObjectId, std::vector<ReadyCallback>> callbacks_;
};

}  // namespace lumen::worker
