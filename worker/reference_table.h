// worker/reference_table.h
//
// The reference counts of the objects this process knows, and which ones it
// owns (docs/objects.md, "Reference counting"). An entry counts every hold:
// ObjectRef copies alive here, tasks in flight that take the object as an
// argument (AddTaskArg: counted apart too, so `lumen memory` can say
// USED_BY_PENDING_TASK; bits of the entry, no allocation), objects
// whose value contains the ref (AddContained), and holds
// taken for another worker (AddRemote: a borrower still using it, or the
// caller of a task that returned it nested in its result). When the count
// of an entry reaches zero it goes: the free callback runs (the owner
// deletes the value from the memory store and plasma), the objects it
// contained lose one hold, and WhenReleased waiters are answered.
//
// TaskRefScope collects, on a task's thread, the refs the task met that
// this process does not own and the refs packed into its return value, so
// the task's reply can tell the caller (see core_worker_refs.cc). A task
// that meets no ref pays one thread-local store and load.
//
// Threading: thread-safe; callbacks run outside the lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/id.h"
#include "proto/common.pb.h"

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
  // A hold for a task in flight that takes `id` as an argument, and its
  // release (when the task ends). Counts like Add, and apart.
  void AddTaskArg(const ObjectId& id);
  void RemoveTaskArg(const ObjectId& id);
  // A hold taken for worker `holder` (binary WorkerId), and its release.
  void AddRemote(const ObjectId& id, const std::string& holder);
  void RemoveRemote(const ObjectId& id, const std::string& holder);
  // Holds each of `inner` while `outer` lives (refs packed in its value).
  // False, taking nothing, when `outer` is not referenced here.
  bool AddContained(const ObjectId& outer, const std::vector<ObjectId>& inner);
  // Runs `released` once every hold on `id` is gone except those taken for
  // `requester`. False, keeping nothing, when that is already so.
  bool WhenReleased(const ObjectId& id, const std::string& requester,
                    std::function<void()> released);
  // Holds on `id` other than those taken for `holder` (0 when unknown).
  int CountExcept(const ObjectId& id, const std::string& holder) const;

  // True while `id` is owned here and still referenced or pending.
  bool IsOwnedAndAlive(const ObjectId& id) const;
  // True while any reference to `id` (owned or borrowed) is alive here.
  bool IsReferenced(const ObjectId& id) const;
  size_t Size() const;

  struct Info {
    ObjectId id;
    bool owned = false;
    bool in_plasma = false;
    int count = 0;
    int task_args = 0;  // Of `count`: AddTaskArg holds.
    std::vector<ObjectId> contains;
    std::vector<std::string> remote_holders;
  };
  std::vector<Info> Snapshot() const;

 private:
  struct Waiter {
    WorkerId requester;
    std::function<void()> released;
  };
  // What few entries have, kept aside so that a plain entry stays small.
  struct Remote {
    std::vector<ObjectId> contained;  // Held while this entry lives.
    std::vector<WorkerId> holders;     // One per AddRemote hold.
    std::vector<Waiter> waiters;
  };
  struct Entry {
    int count = 0;
    // Of `count`: AddTaskArg holds. Bit fields, so that counting them apart
    // keeps the entry at 16 bytes (static_assert below). 2^30 tasks in
    // flight on one object is far past any submitter's in-flight limit.
    uint32_t task_args : 30 = 0;
    uint32_t owned : 1 = 0;
    uint32_t in_plasma : 1 = 0;
    std::unique_ptr<Remote> remote;  // Null until needed.
    Remote& MutableRemote() {
      if (!remote) remote = std::make_unique<Remote>();
      return *remote;
    }
  };
  static_assert(sizeof(Entry) <= 16, "one entry per object: kept small");
  static int CountExcept(const Entry& e, const WorkerId& holder);
  // Takes one hold (a task argument's when `task_arg`).
  void Hold(const ObjectId& id, bool task_arg);
  // Drops one hold (one of `holder`'s when not null, a task argument's when
  // `task_arg`); frees at zero.
  void Release(const ObjectId& id, const std::string* holder, bool task_arg = false);

  mutable absl::Mutex mu_;
  // Open addressing: one probe per lookup, no node allocated per object.
  absl::flat_hash_map<ObjectId, Entry, std::hash<ObjectId>> entries_ ABSL_GUARDED_BY(mu_);
  FreeCallback on_free_;
};

// What one task met, on its thread (see the header comment). Nests: the
// innermost scope collects.
class TaskRefScope {
 public:
  // `caller`: the address the task's push came from; may be null.
  explicit TaskRefScope(const rpc::Address* caller);
  ~TaskRefScope();
  TaskRefScope(const TaskRefScope&) = delete;
  TaskRefScope& operator=(const TaskRefScope&) = delete;
  static TaskRefScope* Current();

  const rpc::Address* caller;
  std::vector<ObjectId> seen;      // Not-owned ids referenced during the task (repeats).
  std::vector<ObjectId> returned;  // Packed into the result; each holds one reference.

 private:
  TaskRefScope* saved_;
};

}  // namespace lumen::worker
