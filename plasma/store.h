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
// Threading: the store loop only; no locks.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/id.h"
#include "plasma/allocator.h"
#include "plasma/eviction_policy.h"
#include "proto/plasma.pb.h"

namespace lumen::plasma {

using ClientId = uint64_t;
using GetCallback = std::function<void(const GetReply&)>;
using NotificationListener = std::function<void(const Notification&)>;

struct StoreOptions {
  // How many deleted ids are remembered so Get can answer DELETED.
  size_t deleted_ids_remembered = 100000;
};

class PlasmaStore {
 public:
  // `arena` (not owned, may be null in tests that put no inline data) is the
  // store's mapping of the arena of `capacity` bytes.
  PlasmaStore(uint8_t* arena, uint64_t capacity, StoreOptions options = {});

  // Called for every seal and every deletion or eviction.
  void SetNotificationListener(NotificationListener listener) { notify_ = std::move(listener); }

  CreateReply Create(ClientId client, const CreateRequest& request);
  StatusReply Seal(ClientId client, const ObjectId& id);
  StatusReply Abort(ClientId client, const ObjectId& id);
  void Release(ClientId client, const ObjectId& id);
  bool Contains(const ObjectId& id) const;
  StatusReply Delete(const std::vector<ObjectId>& ids);
  StatusReply Pin(const std::vector<ObjectId>& ids, bool pin);

  // Answers through `callback`, at once (returns 0) when every object is
  // sealed, some id is deleted or `wait` is false; otherwise returns a
  // request id, and the callback runs when all are sealed or at ExpireGet.
  uint64_t Get(ClientId client, const std::vector<ObjectId>& ids, bool wait, GetCallback callback);
  // Completes a pending Get with what is available now; no-op if done.
  void ExpireGet(uint64_t request_id);

  // Releases everything `client` holds, aborts its creates, drops its Gets.
  void DisconnectClient(ClientId client);

  uint64_t capacity() const { return allocator_.capacity(); }
  uint64_t in_use_bytes() const { return allocator_.allocated_bytes(); }
  uint64_t evictable_bytes() const { return eviction_.evictable_bytes(); }
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
    int holders = 0;
  };
  struct ClientState {
    absl::flat_hash_set<ObjectId> holding;
    absl::flat_hash_set<ObjectId> creating;
    absl::flat_hash_set<uint64_t> gets;
  };
  struct PendingGet {
    ClientId client;
    std::vector<ObjectId> ids;
    size_t unsealed;
    GetCallback callback;
  };

  CreateReply CreateObject(ClientId client, const ObjectId& id, const CreateRequest& request);
  std::optional<uint64_t> AllocateWithEviction(uint64_t size, CreateReply* reply);
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
  ArenaAllocator allocator_;
  LruEvictionPolicy eviction_;
  NotificationListener notify_;
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
