// The PlasmaStore's side of the shared object index and of the clients'
// slabs (declared in plasma/store.h): mirroring objects into the index,
// adopting the entries clients put, slot and slab bookkeeping, and the scan
// that clears a dead client's holds.
#include "absl/strings/str_cat.h"
#include "glog/logging.h"
#include "plasma/store.h"

namespace lumen::plasma {

int PlasmaStore::RegisterClient(ClientId client) {
  if (index_ == nullptr) return 0;
  for (int slot = 1; slot < ObjectIndex::kMaxSlots; ++slot) {
    if (slot_owner_[slot] != 0) continue;
    slot_owner_[slot] = client;
    clients_[client].slot = slot;
    return slot;
  }
  return 0;  // Served over the socket only.
}

CreateReply PlasmaStore::GrantSlab(ClientId client) {
  ClientState& state = clients_[client];
  if (state.slot == 0) return ErrorReply<CreateReply>(INVALID_REQUEST, "client has no index slot");
  RetireSlab(state);
  CreateReply reply;
  auto offset = AllocateWithEviction(kSlabBytes, &reply);
  if (!offset) return reply;
  slabs_.emplace(*offset, Slab{client, 0, false});
  state.slab = *offset;
  reply.set_offset(*offset);
  reply.set_requested(kSlabBytes);
  return reply;
}

void PlasmaStore::RetireSlab(ClientState& state) {
  if (!state.slab) return;
  auto slab = slabs_.find(*state.slab);
  state.slab.reset();
  CHECK(slab != slabs_.end());
  slab->second.retired = true;
  if (slab->second.live == 0) {
    allocator_.Free(slab->first);
    slabs_.erase(slab);
  }
}

void PlasmaStore::FreeObjectSpace(const Object& object) {
  if (!object.in_slab) {
    allocator_.Free(object.offset);
    return;
  }
  auto slab = slabs_.find(object.slab);
  CHECK(slab != slabs_.end());
  if (--slab->second.live == 0 && slab->second.retired) {
    allocator_.Free(slab->first);
    slabs_.erase(slab);
  }
}

void PlasmaStore::PutNotice(ClientId client, const std::vector<ObjectId>& ids) {
  for (const ObjectId& id : ids) {
    if (!objects_.contains(id) && !Adopt(id)) {
      LOG(WARNING) << "client " << client << " announced object " << id.Hex() << " that is not in the index";
    }
  }
}

void PlasmaStore::UnholdNotice(const std::vector<ObjectId>& ids) {
  for (const ObjectId& id : ids) {
    auto it = objects_.find(id);
    if (it == objects_.end() || !it->second.delete_pending || IsHeld(id, it->second)) continue;
    EraseObject(id, /*remember_deleted=*/true);
  }
}

absl::flat_hash_map<ObjectId, PlasmaStore::Object>::iterator PlasmaStore::FindObject(const ObjectId& id) {
  auto it = objects_.find(id);
  if (it != objects_.end() || index_ == nullptr || !Adopt(id)) return it;
  return objects_.find(id);
}

// Adopts the index entry a client put for `id`, if there is one.
bool PlasmaStore::Adopt(const ObjectId& id) {
  if (index_ == nullptr) return false;
  IndexEntry entry;
  {
    IndexLock lock(*index_);
    IndexEntry* found = index_->Find(id);
    if (found == nullptr || found->creator == 0) return false;
    entry = *found;
  }
  if (AdoptEntry(id, entry)) return true;
  LOG(WARNING) << "dropping invalid index entry for object " << id.Hex() << " from slot " << entry.creator;
  IndexLock lock(*index_);
  if (IndexEntry* found = index_->Find(id)) index_->Erase(found);
  return false;
}

// Checks a client's entry against the slab the store granted that client,
// then makes it a sealed object of the store.
bool PlasmaStore::AdoptEntry(const ObjectId& id, const IndexEntry& entry) {
  if (entry.creator >= ObjectIndex::kMaxSlots || entry.state != IndexState::kSealed) return false;
  const ClientId client = slot_owner_[entry.creator];
  auto slab = slabs_.upper_bound(entry.offset);
  if (client == 0 || slab == slabs_.begin()) return false;
  --slab;
  const uint64_t slab_end = slab->first + kSlabBytes;
  if (slab->second.owner != client || entry.data_size > ObjectIndex::kSlabObjectLimit ||
      entry.metadata_size > ObjectIndex::kSlabObjectLimit ||
      entry.offset + entry.data_size + entry.metadata_size > slab_end) {
    return false;
  }
  Object object;
  object.offset = entry.offset;
  object.data_size = entry.data_size;
  object.metadata_size = entry.metadata_size;
  object.creator = client;
  object.pinned = (entry.flags & ObjectIndex::kPinFlag) != 0;
  if (object.pinned) object.owner = OwnerFor(client, id, "");
  object.in_slab = true;
  object.slab = slab->first;
  ++slab->second.live;
  {
    IndexLock lock(*index_);
    if (IndexEntry* found = index_->Find(id)) found->creator = 0;
  }
  deleted_.erase(id);
  auto [it, inserted] = objects_.emplace(id, object);
  CHECK(inserted);
  SealObject(id, it->second);
  return true;
}

bool PlasmaStore::MakeIndexRoom(CreateReply* reply) {
  if (index_ == nullptr) return true;
  auto full = [this] {
    IndexLock lock(*index_);
    return index_->full();
  };
  while (full()) {
    if (EvictOne()) continue;
    reply->set_error(OUT_OF_MEMORY);
    reply->set_message(absl::StrCat("object store full: the object index holds its limit of ", index_->size(),
                                    " objects"));
    return false;
  }
  return true;
}

void PlasmaStore::IndexInsert(const ObjectId& id, const Object& object) {
  if (index_ == nullptr) return;
  IndexLock lock(*index_);
  IndexEntry* entry = index_->Insert(id);
  CHECK(entry != nullptr) << "MakeIndexRoom left no room";
  entry->offset = object.offset;
  entry->data_size = object.data_size;
  entry->metadata_size = object.metadata_size;
  entry->state = IndexState::kCreating;
  index_->Inserted();
}

void PlasmaStore::IndexSetState(const ObjectId& id, IndexState state) {
  if (index_ == nullptr) return;
  IndexLock lock(*index_);
  if (IndexEntry* entry = index_->Find(id)) entry->state = state;
}

void PlasmaStore::IndexErase(const ObjectId& id) {
  if (index_ == nullptr) return;
  IndexLock lock(*index_);
  if (IndexEntry* entry = index_->Find(id)) index_->Erase(entry);
}

bool PlasmaStore::IndexHeld(const ObjectId& id) {
  if (index_ == nullptr) return false;
  IndexLock lock(*index_);
  IndexEntry* entry = index_->Find(id);
  return entry != nullptr && ObjectIndex::HasHolders(entry);
}

// Clears `slot`'s bit everywhere; collects the delete-pending objects that
// nobody holds any more and the entries the client put but did not announce.
void PlasmaStore::ScanDeadClient(int slot, std::vector<ObjectId>* unheld, std::vector<ObjectId>* to_adopt) {
  IndexLock lock(*index_);
  for (uint64_t i = 0; i < index_->capacity(); ++i) {
    IndexEntry* entry = index_->entry(i);
    if (entry->state == IndexState::kEmpty) continue;
    if (entry->creator == slot) to_adopt->push_back(ObjectIndex::IdOf(entry));
    if (!ObjectIndex::HasHolder(entry, slot)) continue;
    ObjectIndex::ClearHolder(entry, slot);
    if (entry->state == IndexState::kDeletePending && !ObjectIndex::HasHolders(entry)) {
      unheld->push_back(ObjectIndex::IdOf(entry));
    }
  }
}

}  // namespace lumen::plasma
