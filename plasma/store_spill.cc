// The PlasmaStore's side of primary copies (declared in plasma/store.h):
// owners and their exit, the spill orders given to the node's raylet, its
// reports, and restoring a spilled object.
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "plasma/store.h"

namespace lumen::plasma {

void PlasmaStore::Identify(ClientId client, const std::string& owner) {
  ClientState& state = clients_[client];
  if (state.identity == owner || owner.empty()) return;
  if (!state.identity.empty()) {
    LOG(WARNING) << "client " << client << " identified twice; keeping its first identity";
    return;
  }
  state.identity = owner;
  ++owner_connections_[owner];
}

std::string PlasmaStore::OwnerFor(ClientId client, const ObjectId& id, const std::string& requested) const {
  if (!requested.empty()) return requested;
  if (id.Index() != 0) return std::string();
  auto state = clients_.find(client);
  return state == clients_.end() ? std::string() : state->second.identity;
}

// The owner's last connection closed: it exited, however it exited. Its
// primaries lose their pin and are deleted (at their last release if held).
void PlasmaStore::OwnerExited(const std::string& owner) {
  if (dead_owners_.insert(owner).second) {
    dead_owner_order_.push_back(owner);
    while (dead_owner_order_.size() > options_.dead_owners_remembered) {
      dead_owners_.erase(dead_owner_order_.front());
      dead_owner_order_.pop_front();
    }
  }
  std::vector<ObjectId> owned;
  for (auto& [id, object] : objects_) {
    if (object.owner != owner) continue;
    owned.push_back(id);
    object.pinned = false;
    object.owner.clear();
  }
  if (owned.empty()) return;
  LOG(INFO) << "the owner of " << owned.size() << " primary copies exited: deleting them";
  for (const ObjectId& id : owned) {
    auto it = objects_.find(id);
    if (it != objects_.end() && !it->second.sealed && !it->second.spilled) continue;  // Being created.
    UpdateEvictable(id, it->second);
  }
  Delete(owned);
}

bool PlasmaStore::OrderSpills(uint64_t need) {
  const uint64_t free_bytes = allocator_.capacity() - allocator_.allocated_bytes();
  // Free space may be fragmented: ask for `need` beyond what is under way.
  uint64_t want = need > spilling_bytes_ ? need - spilling_bytes_ : 0;
  if (want > 0 && free_bytes + spilling_bytes_ >= need && spilling_bytes_ > 0) want = 0;
  std::vector<ObjectId> victims;
  for (const ObjectId& id : spillable_.ChooseVictims(want)) {
    Object& object = objects_.at(id);
    if (IndexHeld(id)) {  // Read through the index right now: used, not a victim.
      spillable_.Add(id, ArenaAllocator::RoundUp(object.data_size + object.metadata_size));
      continue;
    }
    object.spilling = true;
    spillable_.Remove(id);
    spilling_bytes_ += ArenaAllocator::RoundUp(object.data_size + object.metadata_size);
    victims.push_back(id);
  }
  if (!victims.empty()) {
    VLOG(1) << "ordering " << victims.size() << " spills for " << need << " bytes";
    spill_hooks_.spill(victims);
  }
  return spilling_bytes_ > 0;
}

StatusReply PlasmaStore::SpillDone(const SpillResult& result) {
  auto id = ObjectId::FromBinary(result.id());
  if (!id.ok()) return ErrorReply<StatusReply>(INVALID_REQUEST, std::string(id.status().message()));
  auto it = objects_.find(*id);
  if (it == objects_.end() || !it->second.spilling) {
    return ErrorReply<StatusReply>(NOT_FOUND, "object " + id->Hex() + " is no longer being spilled");
  }
  Object& object = it->second;
  object.spilling = false;
  spilling_bytes_ -= ArenaAllocator::RoundUp(object.data_size + object.metadata_size);
  if (!result.error().empty()) {
    spill_error_ = result.error();
    LOG(WARNING) << "spilling object " << id->Hex() << " failed: " << spill_error_;
    UpdateEvictable(*id, object);
    return StatusReply();
  }
  if (IsHeld(*id, object) || object.delete_pending || !object.sealed) {
    UpdateEvictable(*id, object);
    return ErrorReply<StatusReply>(NOT_FOUND, "object " + id->Hex() + " was used meanwhile; kept in memory");
  }
  FreeObjectSpace(object);
  IndexErase(*id);
  spillable_.Remove(*id);
  object.sealed = false;
  object.spilled = true;
  object.offset = 0;
  spilled_bytes_ += object.data_size + object.metadata_size;
  ++spilled_count_;
  return StatusReply();
}

void PlasmaStore::OrderRestores(const std::vector<ObjectId>& ids) {
  std::vector<ObjectId> order;
  for (const ObjectId& id : ids) {
    Object& object = objects_.at(id);
    if (object.restoring) continue;
    object.restoring = true;
    order.push_back(id);
  }
  if (!order.empty() && spill_hooks_.restore) spill_hooks_.restore(order);
}

// A restore is a Create of a spilled object by the raylet: memory again,
// then the raylet writes it and seals it, which wakes the waiting Gets.
CreateReply PlasmaStore::Restore(ClientId client, const ObjectId& id, const CreateRequest& request) {
  auto it = objects_.find(id);
  if (it == objects_.end() || !it->second.spilled) {
    return ErrorReply<CreateReply>(NOT_FOUND, "object " + id.Hex() + " is not spilled");
  }
  if (request.data_size() != it->second.data_size || request.metadata_size() != it->second.metadata_size) {
    return ErrorReply<CreateReply>(INVALID_REQUEST, "restore of object " + id.Hex() + " with other sizes");
  }
  CreateReply reply;
  if (!MakeIndexRoom(&reply)) return reply;
  auto offset = AllocateWithEviction(request.data_size() + request.metadata_size(), &reply);
  it = objects_.find(id);  // Eviction may have rehashed the table.
  if (!offset) {
    if (!reply.spill_pending()) it->second.restoring = false;  // A later Get orders it again.
    return reply;
  }
  Object& object = it->second;
  ForgetSpill(id, object);
  object.offset = *offset;
  object.creator = client;
  object.pinned = true;
  IndexInsert(id, object);
  clients_[client].creating.insert(id);
  reply.set_offset(*offset);
  return reply;
}

void PlasmaStore::ForgetSpill(const ObjectId& id, Object& object) {
  const uint64_t size = object.data_size + object.metadata_size;
  if (object.spilling) {
    object.spilling = false;
    spilling_bytes_ -= ArenaAllocator::RoundUp(size);
  }
  if (!object.spilled) return;
  object.spilled = false;
  object.restoring = false;
  spilled_bytes_ -= size;
  --spilled_count_;
  if (spill_hooks_.freed) spill_hooks_.freed({id});
}

StatsReply PlasmaStore::Stats() const {
  StatsReply stats;
  stats.set_capacity(allocator_.capacity());
  stats.set_in_use(allocator_.allocated_bytes());
  stats.set_object_count(objects_.size() - spilled_count_);
  uint64_t pinned = 0;
  for (const auto& [id, object] : objects_) {
    if (object.pinned && !object.spilled) pinned += object.data_size + object.metadata_size;
  }
  stats.set_pinned_bytes(pinned);
  stats.set_spilled_bytes(spilled_bytes_);
  stats.set_spilled_objects(spilled_count_);
  stats.set_spilling_objects(0);
  for (const auto& [id, object] : objects_) stats.set_spilling_objects(stats.spilling_objects() + object.spilling);
  stats.set_spill_error(spill_error_);
  return stats;
}

}  // namespace lumen::plasma
