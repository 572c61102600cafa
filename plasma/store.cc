#include "plasma/store.h"

#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace lumen::plasma {

PlasmaStore::PlasmaStore(uint8_t* arena, uint64_t capacity, StoreOptions options, ObjectIndex* index)
    : arena_(arena), options_(options), index_(index), slot_owner_(ObjectIndex::kMaxSlots, 0),
      allocator_(capacity) {}

CreateReply PlasmaStore::Create(ClientId client, const CreateRequest& request) {
  auto id = ObjectId::FromBinary(request.id());
  if (!id.ok()) return ErrorReply<CreateReply>(INVALID_REQUEST, std::string(id.status().message()));
  if (request.restore()) return Restore(client, *id, request);
  if (FindObject(*id) != objects_.end()) {
    return ErrorReply<CreateReply>(ALREADY_EXISTS, "object " + id->Hex() + " already exists");
  }
  if (request.data_size() > allocator_.capacity() || request.metadata_size() > allocator_.capacity()) {
    return ErrorReply<CreateReply>(INVALID_REQUEST, "object larger than the store's capacity");
  }
  if (request.seal() && request.inline_data().size() != request.data_size() + request.metadata_size()) {
    return ErrorReply<CreateReply>(INVALID_REQUEST, "inline data does not match the sizes");
  }
  return CreateObject(client, *id, request);
}

CreateReply PlasmaStore::CreateObject(ClientId client, const ObjectId& id, const CreateRequest& request) {
  CreateReply reply;
  const uint64_t total = request.data_size() + request.metadata_size();
  if (!MakeIndexRoom(&reply)) return reply;
  auto offset = AllocateWithEviction(total, &reply);
  if (!offset) return reply;
  Object object;
  object.offset = *offset;
  object.data_size = request.data_size();
  object.metadata_size = request.metadata_size();
  object.creator = client;
  object.pinned = request.pin();
  if (object.pinned) object.owner = OwnerFor(client, id, request.owner());
  if (dead_owners_.contains(object.owner)) {  // Its owner is gone: nobody will free it.
    object.pinned = false;
    object.owner.clear();
  }
  deleted_.erase(id);
  if (request.seal()) {
    if (total > 0) std::memcpy(arena_ + *offset, request.inline_data().data(), total);
    auto [it, inserted] = objects_.emplace(id, object);
    IndexInsert(id, object);
    SealObject(id, it->second);
  } else {
    objects_.emplace(id, object);
    IndexInsert(id, object);
    clients_[client].creating.insert(id);
  }
  reply.set_offset(*offset);
  return reply;
}

std::optional<uint64_t> PlasmaStore::AllocateWithEviction(uint64_t size, CreateReply* reply) {
  if (auto offset = allocator_.Allocate(size)) return offset;
  const uint64_t need = ArenaAllocator::RoundUp(size);
  const bool can_spill = spill_hooks_.spill && spill_error_.empty();
  const uint64_t spillable = can_spill ? spillable_.evictable_bytes() + spilling_bytes_ : 0;
  const uint64_t stuck = allocator_.allocated_bytes() - eviction_.evictable_bytes() - spillable;
  int evicted = 0;
  if (allocator_.capacity() - stuck >= need) {
    while (EvictOne()) {
      ++evicted;
      if (auto offset = allocator_.Allocate(size)) {
        VLOG(1) << "evicted " << evicted << " objects to place " << size << " bytes";
        return offset;
      }
    }
    if (can_spill && OrderSpills(need)) reply->set_spill_pending(true);
  }
  reply->set_error(OUT_OF_MEMORY);
  reply->set_requested(size);
  reply->set_capacity(allocator_.capacity());
  reply->set_in_use(allocator_.allocated_bytes());
  reply->set_evictable(eviction_.evictable_bytes());
  reply->set_message(absl::StrCat("object store full: requested ", size, " bytes, capacity ",
                                  allocator_.capacity(), ", in use ", allocator_.allocated_bytes(),
                                  ", evictable ", eviction_.evictable_bytes(), ", spilled ", spilled_bytes_,
                                  " (evicted ", evicted, " objects trying)",
                                  reply->spill_pending() ? "; spilling to make room"
                                  : spill_error_.empty() ? ""
                                                         : "; spilling to disk failed: " + spill_error_));
  if (!reply->spill_pending()) LOG(WARNING) << reply->message();
  return std::nullopt;
}

// Evicts the least recently used object that no client holds through the
// index; the held ones it passes become the most recently used.
bool PlasmaStore::EvictOne() {
  for (size_t tries = eviction_.size(); tries > 0; --tries) {
    auto victim = eviction_.LeastRecentlyUsed();
    if (!victim) return false;
    if (IndexHeld(*victim)) {
      const Object& object = objects_.at(*victim);
      eviction_.Add(*victim, ArenaAllocator::RoundUp(object.data_size + object.metadata_size));
      continue;
    }
    EraseObject(*victim, /*remember_deleted=*/false);
    return true;
  }
  return false;
}

bool PlasmaStore::IsHeld(const ObjectId& id, const Object& object) {
  return object.holders > 0 || IndexHeld(id);
}

StatusReply PlasmaStore::Seal(ClientId client, const ObjectId& id) {
  auto it = FindObject(id);
  if (it == objects_.end()) return ErrorReply<StatusReply>(NOT_FOUND, "seal of unknown object " + id.Hex());
  if (it->second.sealed) return ErrorReply<StatusReply>(ALREADY_SEALED, "object " + id.Hex() + " is sealed");
  if (it->second.creator != client) {
    return ErrorReply<StatusReply>(NOT_OWNER, "object " + id.Hex() + " was created by another client");
  }
  clients_[client].creating.erase(id);
  SealObject(id, it->second);
  return StatusReply();
}

void PlasmaStore::SealObject(const ObjectId& id, Object& object) {
  object.sealed = true;
  IndexSetState(id, IndexState::kSealed);
  UpdateEvictable(id, object);
  if (notify_) {
    Notification note;
    note.set_id(id.Binary());
    note.set_data_size(object.data_size);
    note.set_metadata_size(object.metadata_size);
    notify_(note);
  }
  auto waiting = waiters_.find(id);
  if (waiting == waiters_.end()) return;
  std::vector<uint64_t> requests = std::move(waiting->second);
  waiters_.erase(waiting);
  for (uint64_t request_id : requests) {
    auto pending = pending_gets_.find(request_id);
    if (pending != pending_gets_.end() && --pending->second.unsealed == 0) CompleteGet(request_id);
  }
}

StatusReply PlasmaStore::Abort(ClientId client, const ObjectId& id) {
  auto it = FindObject(id);
  if (it == objects_.end()) return ErrorReply<StatusReply>(NOT_FOUND, "abort of unknown object " + id.Hex());
  if (it->second.sealed) return ErrorReply<StatusReply>(ALREADY_SEALED, "object " + id.Hex() + " is sealed");
  if (it->second.creator != client) {
    return ErrorReply<StatusReply>(NOT_OWNER, "object " + id.Hex() + " was created by another client");
  }
  clients_[client].creating.erase(id);
  EraseObject(id, /*remember_deleted=*/false);
  return StatusReply();
}

void PlasmaStore::Release(ClientId client, const ObjectId& id) {
  auto state = clients_.find(client);
  if (state == clients_.end() || !state->second.holding.erase(id)) {
    LOG(WARNING) << "client " << client << " released object " << id.Hex() << " it does not hold";
    return;
  }
  auto it = objects_.find(id);
  CHECK(it != objects_.end());
  Unhold(id, it->second);
}

bool PlasmaStore::Contains(const ObjectId& id) {
  auto it = FindObject(id);
  return it != objects_.end() && it->second.sealed;
}

StatusReply PlasmaStore::Delete(const std::vector<ObjectId>& ids) {
  for (const ObjectId& id : ids) {
    auto it = FindObject(id);
    if (it != objects_.end() && it->second.spilled) {
      EraseObject(id, /*remember_deleted=*/true);
      continue;
    }
    if (it == objects_.end() || !it->second.sealed) continue;
    if (IsHeld(id, it->second)) {
      it->second.delete_pending = true;  // Erased at its last Release.
      eviction_.Remove(id);
      spillable_.Remove(id);
      IndexSetState(id, IndexState::kDeletePending);
    } else {
      EraseObject(id, /*remember_deleted=*/true);
    }
  }
  return StatusReply();
}

StatusReply PlasmaStore::Pin(const std::vector<ObjectId>& ids, bool pin) {
  int missing = 0;
  for (const ObjectId& id : ids) {
    auto it = FindObject(id);
    if (it == objects_.end()) {
      ++missing;
      continue;
    }
    it->second.pinned = pin;
    UpdateEvictable(id, it->second);
  }
  if (missing > 0) return ErrorReply<StatusReply>(NOT_FOUND, absl::StrCat(missing, " objects to pin are unknown"));
  return StatusReply();
}

uint64_t PlasmaStore::Get(ClientId client, const std::vector<ObjectId>& ids, bool wait, GetCallback callback) {
  size_t unsealed = 0;
  std::vector<ObjectId> spilled;
  for (const ObjectId& id : ids) {
    auto it = FindObject(id);
    if (it == objects_.end() && deleted_.contains(id)) {
      callback(ErrorReply<GetReply>(DELETED, "object " + id.Hex() + " was deleted"));
      return 0;
    }
    if (it == objects_.end() || !it->second.sealed) ++unsealed;
    if (it != objects_.end() && it->second.spilled) spilled.push_back(id);
  }
  if (wait) OrderRestores(spilled);
  if (unsealed == 0 || !wait) {
    callback(BuildGetReply(client, ids));
    return 0;
  }
  const uint64_t request_id = next_get_id_++;
  for (const ObjectId& id : ids) {
    if (!Contains(id)) waiters_[id].push_back(request_id);
  }
  clients_[client].gets.insert(request_id);
  pending_gets_.emplace(request_id, PendingGet{client, ids, unsealed, std::move(callback)});
  return request_id;
}

void PlasmaStore::ExpireGet(uint64_t request_id) {
  if (pending_gets_.contains(request_id)) CompleteGet(request_id);
}

void PlasmaStore::CompleteGet(uint64_t request_id) {
  auto node = pending_gets_.extract(request_id);
  PendingGet& pending = node.mapped();
  for (const ObjectId& id : pending.ids) {
    auto waiting = waiters_.find(id);
    if (waiting == waiters_.end()) continue;
    std::erase(waiting->second, request_id);
    if (waiting->second.empty()) waiters_.erase(waiting);
  }
  auto state = clients_.find(pending.client);
  if (state != clients_.end()) state->second.gets.erase(request_id);
  pending.callback(BuildGetReply(pending.client, pending.ids));
}

GetReply PlasmaStore::BuildGetReply(ClientId client, const std::vector<ObjectId>& ids) {
  GetReply reply;
  for (const ObjectId& id : ids) {
    ObjectLocation* location = reply.add_objects();
    auto it = objects_.find(id);
    if (it == objects_.end() || !it->second.sealed) continue;
    location->set_found(true);
    location->set_offset(it->second.offset);
    location->set_data_size(it->second.data_size);
    location->set_metadata_size(it->second.metadata_size);
    Hold(client, id, it->second);
  }
  return reply;
}

void PlasmaStore::DisconnectClient(ClientId client) {
  auto found = clients_.find(client);
  if (found == clients_.end()) return;
  std::vector<ObjectId> unheld;  // Delete-pending objects it held last.
  if (found->second.slot != 0) {
    std::vector<ObjectId> to_adopt;
    ScanDeadClient(found->second.slot, &unheld, &to_adopt);
    for (const ObjectId& id : to_adopt) Adopt(id);
    RetireSlab(found->second);
    slot_owner_[found->second.slot] = 0;
  }
  auto node = clients_.extract(client);
  ClientState& state = node.mapped();
  if (!state.identity.empty()) {
    auto count = owner_connections_.find(state.identity);
    if (count != owner_connections_.end() && --count->second == 0) {
      owner_connections_.erase(count);
      OwnerExited(state.identity);
    }
  }
  for (uint64_t request_id : state.gets) {
    auto pending = pending_gets_.extract(request_id);
    for (const ObjectId& id : pending.mapped().ids) {
      auto waiting = waiters_.find(id);
      if (waiting == waiters_.end()) continue;
      std::erase(waiting->second, request_id);
      if (waiting->second.empty()) waiters_.erase(waiting);
    }
  }
  for (const ObjectId& id : state.creating) EraseObject(id, /*remember_deleted=*/false);
  for (const ObjectId& id : state.holding) {
    auto it = objects_.find(id);
    if (it != objects_.end()) Unhold(id, it->second);
  }
  UnholdNotice(unheld);
}

void PlasmaStore::Hold(ClientId client, const ObjectId& id, Object& object) {
  if (!clients_[client].holding.insert(id).second) return;
  ++object.holders;
  eviction_.Remove(id);
  spillable_.Remove(id);
}

void PlasmaStore::Unhold(const ObjectId& id, Object& object) {
  if (--object.holders > 0) return;
  if (object.delete_pending) {
    if (!IndexHeld(id)) EraseObject(id, /*remember_deleted=*/true);  // Else at its UnholdNotice.
  } else {
    UpdateEvictable(id, object);
  }
}

void PlasmaStore::UpdateEvictable(const ObjectId& id, const Object& object) {
  const bool unheld = object.sealed && object.holders == 0 && !object.delete_pending;
  const bool evictable = unheld && !object.pinned;
  const uint64_t size = ArenaAllocator::RoundUp(object.data_size + object.metadata_size);
  if (!evictable) {
    eviction_.Remove(id);
  } else if (!eviction_.Contains(id)) {
    eviction_.Add(id, size);
  }
  const bool spillable = unheld && object.pinned && !object.spilling && !object.in_slab;
  if (!spillable) {
    spillable_.Remove(id);
  } else if (!spillable_.Contains(id)) {
    spillable_.Add(id, size);
  }
}

void PlasmaStore::EraseObject(const ObjectId& id, bool remember_deleted) {
  auto it = objects_.find(id);
  CHECK(it != objects_.end());
  const bool was_spilled = it->second.spilled;  // Then it has no memory.
  const bool was_sealed = it->second.sealed || was_spilled;
  if (was_spilled || it->second.spilling) ForgetSpill(id, it->second);
  if (!was_spilled) FreeObjectSpace(it->second);
  spill_error_.clear();  // Memory or disk was freed: spilling may work again.
  eviction_.Remove(id);
  spillable_.Remove(id);
  IndexErase(id);
  objects_.erase(it);
  if (remember_deleted) RememberDeleted(id);
  if (was_sealed && notify_) {
    Notification note;
    note.set_id(id.Binary());
    note.set_deleted(true);
    notify_(note);
  }
}

void PlasmaStore::RememberDeleted(const ObjectId& id) {
  if (!deleted_.insert(id).second) return;
  deleted_order_.push_back(id);
  while (deleted_order_.size() > options_.deleted_ids_remembered) {
    deleted_.erase(deleted_order_.front());
    deleted_order_.pop_front();
  }
}

}  // namespace lumen::plasma
