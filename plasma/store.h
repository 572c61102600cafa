// plasma/store.h
//
// PlasmaStore is the object table of the store: which objects exist, where
// they live in the arena, who holds or creates them, who waits for them. It
// does no I/O: the server feeds it decoded requests tagged with a ClientId
// and sends the replies it returns. Pending Gets complete through their
// callback when the objects are sealed or when the server calls ExpireGet.
//
// Object life: Create (the creator holds it) -> Seal (the creator's hold is
// dropped; Get makes holders) -> evictable once no client holds it and it is
// not pinned -> evicted (LRU) or deleted. Delete of a held object is
// deferred to its last Release. A disconnecting client's holds are released
// and its unsealed creates aborted.
//
// With an ObjectIndex (plasma/object_index.h) the store mirrors every object
// into it, so clients get sealed objects and put small ones without a round
// trip. A client puts into a slab of the arena the store granted it
// (GrantSlab) and inserts the entry itself; the store adopts such an entry
// (validating it against the client's slabs) at the client's PutNotice, or
// earlier when any request names the id, or when the client dies. An object
// is held while some client holds it over the socket (`holders`) or has its
// bit set in the index; the store checks the bits before it evicts or
// erases, and a dead client's bits are cleared by a scan.
//
// Owners and spilling (docs/plasma.md, "Owners and spilling"): a pinned
// object is a primary copy owned by a worker (CreateRequest.owner, else for
// a ray::Put id the identity the creating connection gave with Identify). When the last
// connection of an owner closes (the process exited, SIGKILL included) its
// primaries are unpinned and deleted. With spill hooks set (the node's
// raylet is connected), a Create that does not fit after eviction orders the
// raylet to spill the least recently used unheld primaries (`spillable_`)
// and answers OUT_OF_MEMORY with spill_pending, so the client retries; the
// raylet writes each to a file and reports SpillDone, after which the
// object keeps its entry (spilled: no memory, not in the index) and a Get
// of it orders a restore and waits for the raylet's restore Create + Seal.
// Deleting a spilled object tells the raylet to remove its file.
//
// Threading: the store loop only; the index is shared with clients under
// its own lock.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/id.h"
#include "plasma/allocator.h"
#include "plasma/eviction_policy.h"
#include "plasma/object_index.h"
#include "proto/plasma.pb.h"

namespace lumen::plasma {

using ClientId = uint64_t;
using GetCallback = std::function<void(const GetReply&)>;
using NotificationListener = std::function<void(const Notification&)>;

struct StoreOptions {
  // How many deleted ids are remembered so Get can answer DELETED.
  size_t deleted_ids_remembered = 100000;
  // How many exited owners are remembered: a primary created for one of
  // them later (a task return racing its caller's death) is not pinned.
  size_t dead_owners_remembered = 10000;
};

// What the store asks of the node's raylet (store-to-raylet frames on its
// owner connection). Empty functions: no raylet, no spilling.
struct SpillHooks {
  std::function<void(const std::vector<ObjectId>&)> spill;    // Write these to disk.
  std::function<void(const std::vector<ObjectId>&)> restore;  // A Get waits for these.
  std::function<void(const std::vector<ObjectId>&)> freed;    // Their files may go.
};

class PlasmaStore {
 public:
  // Bytes of a slab granted for clients' small puts (objects of up to
  // ObjectIndex::kSlabObjectLimit bytes).
  static constexpr uint64_t kSlabBytes = 256 * 1024;

  // `arena` (not owned, may be null in tests that put no inline data) is the
  // store's mapping of the arena of `capacity` bytes. `index` (not owned,
  // may be null) is the shared object index, initialized and empty.
  PlasmaStore(uint8_t* arena, uint64_t capacity, StoreOptions options = {}, ObjectIndex* index = nullptr);

  // Called for every seal and every deletion or eviction.
  void SetNotificationListener(NotificationListener listener) { notify_ = std::move(listener); }
  void SetSpillHooks(SpillHooks hooks) { spill_hooks_ = std::move(hooks); }

  // `client` speaks for worker `owner` (a WorkerId, binary): its pinned
  // creates are owned by it, and when its last such connection closes the
  // owner's primaries go.
  void Identify(ClientId client, const std::string& owner);
  // The raylet's report on a spill order (see the header comment). NOT_FOUND
  // when the object stays in memory (deleted, or held meanwhile): the
  // raylet removes its file.
  StatusReply SpillDone(const SpillResult& result);
  StatsReply Stats() const;

  CreateReply Create(ClientId client, const CreateRequest& request);
  StatusReply Seal(ClientId client, const ObjectId& id);
  StatusReply Abort(ClientId client, const ObjectId& id);
  void Release(ClientId client, const ObjectId& id);
  bool Contains(const ObjectId& id);
  StatusReply Delete(const std::vector<ObjectId>& ids);
  StatusReply Pin(const std::vector<ObjectId>& ids, bool pin);

  // Answers through `callback`, at once (returns 0) when every object is
  // sealed, some id is deleted or `wait` is false; otherwise returns a
  // request id, and the callback runs when all are sealed or at ExpireGet.
  uint64_t Get(ClientId client, const std::vector<ObjectId>& ids, bool wait, GetCallback callback);
  // Completes a pending Get with what is available now; no-op if done.
  void ExpireGet(uint64_t request_id);

  // Gives `client` an index slot (1..ObjectIndex::kMaxSlots-1), or 0 when
  // there is no index or no free slot.
  int RegisterClient(ClientId client);
  // A fresh slab for `client`'s small puts (offset, `requested` = size);
  // its previous slab is retired. OUT_OF_MEMORY like Create.
  CreateReply GrantSlab(ClientId client);
  // `client` put `ids` through the index: adopt them (unknown or invalid
  // entries are dropped with a warning).
  void PutNotice(ClientId client, const std::vector<ObjectId>& ids);
  // Delete-pending objects that lost their last index holder.
  void UnholdNotice(const std::vector<ObjectId>& ids);

  // Releases everything `client` holds (over the socket and in the index),
  // adopts what it put, aborts its creates, drops its Gets, retires its slab.
  void DisconnectClient(ClientId client);

  uint64_t capacity() const { return allocator_.capacity(); }
  uint64_t in_use_bytes() const { return allocator_.allocated_bytes(); }
  uint64_t evictable_bytes() const { return eviction_.evictable_bytes(); }
  uint64_t spillable_bytes() const { return spillable_.evictable_bytes(); }
  uint64_t spilled_bytes() const { return spilled_bytes_; }
  size_t object_count() const { return objects_.size(); }

 private:
  struct Object {
    uint64_t offset = 0;
    uint64_t data_size = 0;
    uint64_t metadata_size = 0;
    ClientId creator = 0;
    bool sealed = false;
    bool pinned = false;
    bool delete_pending = false;
    bool in_slab = false;  // Then `slab` is the offset of its slab.
    uint64_t slab = 0;
    int holders = 0;
    std::string owner;       // Of a primary copy (pinned at create); may be empty.
    bool spilling = false;   // Ordered to the raylet; not spillable again.
    bool spilled = false;    // Only on disk: no memory, not sealed, not in the index.
    bool restoring = false;  // Restore ordered.
  };
  struct ClientState {
    absl::flat_hash_set<ObjectId> holding;
    absl::flat_hash_set<ObjectId> creating;
    absl::flat_hash_set<uint64_t> gets;
    int slot = 0;
    std::optional<uint64_t> slab;
    std::string identity;  // Identify'd owner id; empty: none.
  };
  struct Slab {
    ClientId owner = 0;
    uint64_t live = 0;  // Adopted objects not yet erased.
    bool retired = false;
  };
  struct PendingGet {
    ClientId client;
    std::vector<ObjectId> ids;
    size_t unsealed;
    GetCallback callback;
  };

  CreateReply CreateObject(ClientId client, const ObjectId& id, const CreateRequest& request);
  std::optional<uint64_t> AllocateWithEviction(uint64_t size, CreateReply* reply);
  bool EvictOne();
  bool IsHeld(const ObjectId& id, const Object& object);

  // Spilling and owners (store_spill.cc).
  CreateReply Restore(ClientId client, const ObjectId& id, const CreateRequest& request);
  // Orders spills towards `need` bytes; true when some are under way.
  bool OrderSpills(uint64_t need);
  void OrderRestores(const std::vector<ObjectId>& ids);
  // A create's owner: `requested`, else for a ray::Put id (Index() 0: the
  // putter owns it) the creating connection's identity. A task return
  // names its owner (its caller) or has none.
  std::string OwnerFor(ClientId client, const ObjectId& id, const std::string& requested) const;
  void OwnerExited(const std::string& owner);
  void ForgetSpill(const ObjectId& id, Object& object);
  // The index side (store_index.cc). Each takes the index lock itself.
  absl::flat_hash_map<ObjectId, Object>::iterator FindObject(const ObjectId& id);
  bool Adopt(const ObjectId& id);
  bool AdoptEntry(const ObjectId& id, const IndexEntry& entry);
  bool MakeIndexRoom(CreateReply* reply);
  void IndexInsert(const ObjectId& id, const Object& object);
  void IndexSetState(const ObjectId& id, IndexState state);
  void IndexErase(const ObjectId& id);
  bool IndexHeld(const ObjectId& id);
  void ScanDeadClient(int slot, std::vector<ObjectId>* unheld, std::vector<ObjectId>* to_adopt);
  void RetireSlab(ClientState& state);
  void FreeObjectSpace(const Object& object);
  void SealObject(const ObjectId& id, Object& object);
  void Hold(ClientId client, const ObjectId& id, Object& object);
  void Unhold(const ObjectId& id, Object& object);
  void UpdateEvictable(const ObjectId& id, const Object& object);
  void EraseObject(const ObjectId& id, bool remember_deleted);
  void RememberDeleted(const ObjectId& id);
  void CompleteGet(uint64_t request_id);
  GetReply BuildGetReply(ClientId client, const std::vector<ObjectId>& ids);

  uint8_t* arena_;
  StoreOptions options_;
  ObjectIndex* index_;
  std::vector<ClientId> slot_owner_;  // Index slot -> client, 0 when free.
  std::map<uint64_t, Slab> slabs_;    // By offset.
  ArenaAllocator allocator_;
  LruEvictionPolicy eviction_;
  LruEvictionPolicy spillable_;  // Sealed, pinned, unheld, not spilling, not in a slab.
  NotificationListener notify_;
  SpillHooks spill_hooks_;
  uint64_t spilling_bytes_ = 0;
  uint64_t spilled_bytes_ = 0;
  uint64_t spilled_count_ = 0;
  std::string spill_error_;  // The last failed spill; cleared when anything is erased.
  absl::flat_hash_map<std::string, int> owner_connections_;
  absl::flat_hash_set<std::string> dead_owners_;
  std::deque<std::string> dead_owner_order_;
  absl::flat_hash_map<ObjectId, Object> objects_;
  absl::flat_hash_map<ClientId, ClientState> clients_;
  absl::flat_hash_map<uint64_t, PendingGet> pending_gets_;
  absl::flat_hash_map<ObjectId, std::vector<uint64_t>> waiters_;
  absl::flat_hash_set<ObjectId> deleted_;
  std::deque<ObjectId> deleted_order_;
  uint64_t next_get_id_ = 1;
};

// Builds a reply with `error` and `message` (StatusReply or CreateReply...).
template <typename Reply>
Reply ErrorReply(ErrorCode error, std::string message) {
  Reply reply;
  reply.set_error(error);
  reply.set_message(std::move(message));
  return reply;
}

}  // namespace lumen::plasma
