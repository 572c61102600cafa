// worker/object_getter.h
//
// ObjectGetter implements ray::Get and ray::Wait for one process. Every
// wait goes through the MemoryStore: values this process owns land there
// when their task replies; values it borrows are fetched from their owner
// (GetObjectStatus, a long poll) and cached there. Values marked in_plasma
// are then mapped from the node's plasma store without a copy. An owner
// that cannot be reached (its process died) makes the Get fail with
// OwnerDiedException ("owner died: ...") within a few seconds. A value
// whose copy was on a node that died is rebuilt by its owner (lineage
// reconstruction, docs/objects.md): the owner's Get asks RebuildFn, a
// borrower's asks the owner (GetObjectStatus with lost_node_id).
// A task blocked in Get tells the raylet, which lends its CPU to others
// until the Get returns (so nested tasks cannot deadlock a node).
// Threading: thread-safe. Failure: throws the ray::internal exceptions.
#pragma once

#include <functional>
#include <memory>
#include <unordered_set>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "plasma/client.h"
#include "ray/api/runtime.h"
#include "worker/client_pool.h"
#include "worker/memory_store.h"
#include "worker/reference_table.h"

namespace lumen::worker {

class ObjectGetter {
 public:
  // `notify_blocked(true/false)` is called around waits made from inside a
  // task; null in drivers.
  // `loop` times retries of owner calls.
  ObjectGetter(EventLoop& loop, MemoryStore& store, ReferenceTable& refs,
               std::shared_ptr<plasma::PlasmaClient> plasma, ClientPool& owners, WorkerId self,
               std::function<void(bool)> notify_blocked);

  std::vector<std::shared_ptr<ray::internal::Buffer>> Get(
      const ray::internal::RefList& refs, int64_t timeout_ms);
  std::vector<bool> Wait(const ray::internal::RefList& refs, int num_objects,
                         int64_t timeout_ms);

  // Objects in another node's store (docs/objects.md, "Between nodes"):
  // `pull(id, node_id, timeout_ms)` asks the local raylet to copy `id` from
  // node `node_id` (binary) into the local store, blocking until it is
  // sealed here or cannot be. Set once, before the first Get. Without it,
  // only local objects can be read.
  using PullFn = std::function<absl::Status(const ObjectId&, const std::string&, int64_t)>;
  void SetPuller(std::string local_node_id, PullFn pull) {
    local_node_id_ = std::move(local_node_id);
    pull_ = std::move(pull);
  }

  // Lineage reconstruction (docs/objects.md): when a value this process
  // owns cannot be pulled, `rebuild(id, lost)` is asked to re-run the task
  // that made it. OK: a re-run is on its way (or `lost` was replaced
  // already), and the Get waits for the new value; an error says why the
  // object cannot be rebuilt. Set once, before the first Get.
  using RebuildFn = std::function<absl::Status(const ObjectId&, const StoredObjectPtr&)>;
  void SetRebuilder(RebuildFn rebuild) { rebuild_ = std::move(rebuild); }
  // Called (on the Get's thread) after a pull copied `id` into the local
  // store, with the ref's owner (RefData::owner), before the Get goes on:
  // the owner is told of the copy. Set once, before the first Get.
  using PulledFn = std::function<void(const ObjectId&, const std::string& owner)>;
  void SetPulledHook(PulledFn pulled) { pulled_ = std::move(pulled); }

  // Marks the calling thread as running a task (enables blocked notices).
  static void SetInTask(bool in_task);
  static bool InTask();

 private:
  // References taken on fetched ids for one Get or Wait, dropped when it
  // ends: a fetched value stays in the store at least that long.
  class HeldRefs {
   public:
    explicit HeldRefs(ReferenceTable& refs) : refs_(refs) {}
    ~HeldRefs() {
      for (const ObjectId& id : ids_) refs_.Remove(id);
    }
    void Add(const ObjectId& id) {
      refs_.Add(id);
      ids_.push_back(id);
    }

   private:
    ReferenceTable& refs_;
    std::vector<ObjectId> ids_;
  };

  // Parses ids and starts owner fetches for borrowed objects not cached
  // yet, holding a reference on each in `held`.
  std::vector<ObjectId> Prepare(const ray::internal::RefList& refs, HeldRefs* held);
  void FetchFromOwner(const ObjectId& id, const rpc::Address& owner);
  // One GetObjectStatus call; UNAVAILABLE is retried with backoff up to
  // kOwnerAttempts calls in all (100 ms, 200 ms, ... apart).
  void AskOwner(const ObjectId& id, const rpc::Address& owner, int attempt);
  static StoredObjectPtr FromOwnerReply(const ObjectId& id, const rpc::Address& owner,
                                        const absl::Status& status, rpc::GetObjectStatusReply& reply);
  static constexpr int kOwnerAttempts = 5;
  // The value of a ready `object`; plasma objects are mapped. `owner` is
  // the ref's (RefData::owner), asked when a borrowed object is missing.
  std::shared_ptr<ray::internal::Buffer> ToBuffer(const ObjectId& id, const StoredObjectPtr& object,
                                                  int64_t timeout_ms, const std::string& owner);
  // Throws OwnerDiedException when `owner` cannot be reached, and
  // UnreconstructableException when it no longer holds `id`.
  void CheckOwner(const ObjectId& id, const rpc::Address& owner);
  // Pulls a plasma object that lives on another node and is not here yet;
  // returns the pull's error when it cannot (throws OwnerDied first, if so).
  absl::Status PullIfRemote(const ObjectId& id, const StoredObject& object, int64_t timeout_ms,
                            const std::string& owner);
  // `lost` could not be pulled (`pulled`): has it rebuilt and returns the
  // new value, or throws UnreconstructableException saying why not.
  // The owner rebuilds itself; a borrower asks the owner (`owner`, the
  // ref's RefData::owner), which rebuilds it and answers with the new value.
  StoredObjectPtr Rebuild(const ObjectId& id, const StoredObjectPtr& lost,
                          const absl::Status& pulled, int64_t timeout_ms, const std::string& owner);
  StoredObjectPtr AskOwnerToRebuild(const ObjectId& id, const StoredObject& lost,
                                    const std::string& what, int64_t timeout_ms,
                                    const std::string& owner);
  // Rebuilds of one object within one Get, at most: each costs a retry of
  // its task, so max_retries ends the loop first; this is a guard.
  static constexpr int kMaxRebuildsPerGet = 100;
  static constexpr int64_t kOwnerCheckMs = 1000;
  static constexpr int64_t kPullTimeoutMs = 600000;

  EventLoop& loop_;
  MemoryStore& store_;
  ReferenceTable& refs_;
  std::shared_ptr<plasma::PlasmaClient> plasma_;
  ClientPool& owners_;
  WorkerId self_;
  std::function<void(bool)> notify_blocked_;
  std::string local_node_id_;
  PullFn pull_;
  RebuildFn rebuild_;
  PulledFn pulled_;
  absl::Mutex mu_;
  std::unordered_set<ObjectId> fetching_ ABSL_GUARDED_BY(mu_);  // Asked of their owner now.
};

// Stores `object` unless every reference to `id` is gone by then (it is
// then dropped, not leaked); returns whether it was kept. The reference may
// go away at any moment on another thread, and its free callback erases
// the store entry: putting first and checking after means that either that
// erase comes after our Put, or the check sees the reference gone.
bool StoreIfReferenced(MemoryStore& store, const ReferenceTable& refs, const ObjectId& id,
                       StoredObjectPtr object);

// Throws the exception matching `error` (RayTaskException, ...).
[[noreturn]] void ThrowTaskError(const rpc::ErrorInfo& error);

}  // namespace lumen::worker
