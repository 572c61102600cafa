// worker/lineage.h
//
// Lineage keeps, for the owner, the TaskSpec of each finished normal task
// whose result lives in a plasma store and that may still be re-run (its
// attempts so far are under max_retries), so that a result whose only copy
// was on a node that died can be rebuilt by running the task again
// (docs/objects.md, "Lineage reconstruction"). One entry per such task,
// keyed by its return id; the owner drops it when the return goes out of
// scope (ReferenceTable's free callback). Tasks with inline results, actor
// tasks and ray::Put objects have no entry and cost nothing here.
//
// Begin decides what a Get that found a value lost does: start a re-run
// (the entry is marked running, the attempt counted), wait for the re-run
// already started by another Get (one re-execution for concurrent Gets),
// take the value that replaced the lost one, or fail with the reason it
// cannot be rebuilt. Record, on the re-run's reply, ends the run.
//
// An entry pins the task's arguments that live in plasma (its ObjectRef
// arguments not inlined into the spec), as Ray does: a re-run needs them,
// so they stay referenced while the entry lives, even after every other
// reference to them is gone. The owner takes those holds (one per id of
// PinnedArgs) before Record stores them; Record and Drop hand back the
// holds of the entry they replace or remove, for the owner to release
// outside this class's lock (a release may free an object whose own entry
// then goes: Drop again).
//
// Bounded, as Ray bounds it (max_lineage_bytes): the entries' bytes (each
// spec's encoded size, its pins and its bookkeeping) stay under
// `max_bytes`. Past it, Record evicts the oldest entries not being re-run
// first, handing their holds back like Drop; an evicted result can no
// longer be rebuilt, and Begin says so (the id is remembered while it is
// in scope: until its Drop). So a long chain of tasks, each entry pinning
// the result before it, holds at most `max_bytes` of specs and the
// arguments they pin, not the whole chain.
// Pure bookkeeping: no I/O; the owner resubmits.
// Threading: thread-safe; the callbacks given to Begin run under its lock
// and must not call back into Lineage.
#pragma once

#include <atomic>
#include <functional>
#include <list>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/synchronization/mutex.h"
#include "common/id.h"
#include "proto/worker.pb.h"

namespace lumen::worker {

class Lineage {
 public:
  // Ray's default for max_lineage_bytes.
  static constexpr size_t kDefaultMaxBytes = size_t{1} << 30;
  // LUMEN_MAX_LINEAGE_BYTES (RAY_max_lineage_bytes is read too), else the
  // default.
  static size_t MaxBytesFromEnv();

  explicit Lineage(size_t max_bytes = kDefaultMaxBytes) : max_bytes_(max_bytes) {}

  // Whether Record keeps `spec` (retries left, not an actor task).
  static bool Keeps(const rpc::TaskSpec& spec);
  // The arguments an entry of `spec` pins: its ObjectRef arguments that
  // are not inlined.
  static std::vector<ObjectId> PinnedArgs(const rpc::TaskSpec& spec);

  // Keeps `spec` as the way to rebuild `id` when Keeps(spec), with
  // `pinned` (the holds the caller took on PinnedArgs(spec)); otherwise
  // forgets any entry of `id` (and `pinned` must be empty). Ends a re-run
  // of `id`. Returns whether it is kept; `*released` gets the holds of the
  // entry replaced or forgotten, and of any entry evicted to stay under
  // the budget (this one included, alone over it), for the caller to
  // release.
  bool Record(const ObjectId& id, const rpc::TaskSpec& spec, std::vector<ObjectId> pinned,
              std::vector<ObjectId>* released);
  // `id` went out of scope, or its re-run failed: forget it (and that it
  // was evicted). Returns the holds its entry had, for the caller to
  // release.
  std::vector<ObjectId> Drop(const ObjectId& id);
  // Cheap check (no lock) before Drop on a path every task takes.
  bool Empty() const { return size_.load(std::memory_order_relaxed) == 0; }

  struct Rebuild {
    enum Kind {
      kResubmit,    // Run `spec` again; its result replaces the lost value.
      kInProgress,  // Another Get started the re-run: wait for its result.
      kReplaced,    // The lost value was already replaced: read it again.
      kImpossible,  // Cannot be rebuilt: `why` says why.
    };
    Kind kind = kImpossible;
    rpc::TaskSpec spec;
    std::string why;
  };
  // The value of `id` was found lost. `still_lost()` tells whether the
  // owner still holds that lost value (not a newer one); `forget_lost()`
  // removes it so that waiters wait for the re-run. Both run under the
  // lock, so two Gets of one lost value start one re-run.
  Rebuild Begin(const ObjectId& id, const std::function<bool()>& still_lost,
                const std::function<void()>& forget_lost);

  // Entries kept, and ids remembered as evicted.
  size_t Size() const { return size_.load(std::memory_order_relaxed); }
  size_t Bytes() const;
  // Entries evicted to stay under the budget, ever (no lock: the owner
  // reads it around each Record to warn once).
  int64_t evicted_total() const { return evicted_total_.load(std::memory_order_relaxed); }
  size_t max_bytes() const { return max_bytes_; }
  // How many holds the entries have on each id they pin (for `lumen
  // memory`: O(entries), at query time only).
  absl::flat_hash_map<ObjectId, int, std::hash<ObjectId>> PinCounts() const;
  bool IsRunning(const ObjectId& id) const;

 private:
  struct Entry {
    rpc::TaskSpec spec;
    std::vector<ObjectId> pinned;  // Holds on its arguments.
    bool running = false;  // A re-run was submitted and has not replied.
    size_t bytes = 0;      // What it counts against the budget.
    std::list<ObjectId>::iterator order;  // Its place in order_.
  };
  using Entries = absl::flat_hash_map<ObjectId, Entry, std::hash<ObjectId>>;

  // Removes `it`, moving its holds to `released`.
  void Erase(Entries::iterator it, std::vector<ObjectId>* released) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Evicts the oldest entries not running while over the budget.
  void Evict(std::vector<ObjectId>* released) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void UpdateSize() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const size_t max_bytes_;
  mutable absl::Mutex mu_;
  Entries entries_ ABSL_GUARDED_BY(mu_);
  std::list<ObjectId> order_ ABSL_GUARDED_BY(mu_);  // Entries, oldest kept first.
  // Evicted results still in scope: Begin says why they cannot be rebuilt.
  absl::flat_hash_set<ObjectId, std::hash<ObjectId>> evicted_ ABSL_GUARDED_BY(mu_);
  size_t bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::atomic<int64_t> evicted_total_{0};  // Written under mu_.
  std::atomic<size_t> size_{0};  // entries_ and evicted_.
};

}  // namespace lumen::worker
