#include "plasma/index_client.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "plasma/client.h"

namespace lumen::plasma {

absl::StatusOr<std::unique_ptr<IndexClient>> IndexClient::Map(int fd, uint64_t bytes, int slot, uint8_t* arena,
                                                              uint64_t arena_size) {
  if (slot <= 0 || slot >= ObjectIndex::kMaxSlots) return absl::InvalidArgumentError("bad index slot");
  void* mapping = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (mapping == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat("cannot map the object index: ", std::strerror(errno)));
  }
  absl::StatusOr<ObjectIndex> index = ObjectIndex::Attach(mapping, bytes);
  if (!index.ok()) {
    ::munmap(mapping, bytes);
    return index.status();
  }
  return std::unique_ptr<IndexClient>(new IndexClient(mapping, bytes, *index, slot, arena, arena_size));
}

IndexClient::~IndexClient() { ::munmap(mapping_, bytes_); }

bool IndexClient::InArena(uint64_t offset, uint64_t size) const {
  return offset <= arena_size_ && size <= arena_size_ - offset;
}

size_t IndexClient::Get(const std::vector<ObjectId>& ids, std::vector<std::optional<ObjectBuffer>>* out,
                        std::vector<bool>* got) {
  got->assign(ids.size(), false);
  size_t filled = 0;
  IndexLock lock(index_);
  for (size_t i = 0; i < ids.size(); ++i) {
    if ((*out)[i].has_value()) continue;
    IndexEntry* entry = index_.Find(ids[i]);
    if (entry == nullptr || entry->state != IndexState::kSealed) continue;
    const uint64_t data_size = entry->data_size;
    const uint64_t metadata_size = entry->metadata_size;
    if (data_size > arena_size_ || !InArena(entry->offset, data_size + metadata_size)) continue;
    ObjectIndex::SetHolder(entry, slot_);
    const uint8_t* data = arena_ + entry->offset;
    (*out)[i] = ObjectBuffer{data, data_size, data + data_size, metadata_size};
    (*got)[i] = true;
    ++filled;
  }
  return filled;
}

void IndexClient::Release(const std::vector<ObjectId>& ids, std::vector<ObjectId>* unheld) {
  IndexLock lock(index_);
  for (const ObjectId& id : ids) {
    IndexEntry* entry = index_.Find(id);
    if (entry == nullptr) continue;
    ObjectIndex::ClearHolder(entry, slot_);
    if (entry->state == IndexState::kDeletePending && !ObjectIndex::HasHolders(entry)) unheld->push_back(id);
  }
}

void IndexClient::SetSlab(uint64_t offset, uint64_t size) {
  slab_offset_ = offset;
  slab_size_ = InArena(offset, size) ? size : 0;
  slab_used_ = 0;
}

IndexClient::PutOutcome IndexClient::Put(const ObjectId& id, const void* data, uint64_t size, const void* metadata,
                                         uint64_t metadata_size, bool pin) {
  const uint64_t reserved = size + metadata_size == 0 ? 64 : (size + metadata_size + 63) & ~uint64_t{63};
  if (slab_size_ - slab_used_ < reserved || slab_size_ == 0) return PutOutcome::kNeedSlab;
  const uint64_t offset = slab_offset_ + slab_used_;
  // Our slab space is private until the entry is published below.
  if (size > 0) std::memcpy(arena_ + offset, data, size);
  if (metadata_size > 0) std::memcpy(arena_ + offset + size, metadata, metadata_size);
  IndexLock lock(index_);
  if (index_.Find(id) != nullptr) return PutOutcome::kExists;
  IndexEntry* entry = index_.Insert(id, /*for_client=*/true);
  if (entry == nullptr) return PutOutcome::kIndexFull;
  entry->offset = offset;
  entry->data_size = size;
  entry->metadata_size = metadata_size;
  entry->creator = static_cast<uint16_t>(slot_);
  entry->flags = pin ? ObjectIndex::kPinFlag : 0;
  entry->state = IndexState::kSealed;  // Published: the last write.
  index_.Inserted();
  slab_used_ += reserved;
  return PutOutcome::kPut;
}

}  // namespace lumen::plasma
