#include "plasma/allocator.h"

#include "glog/logging.h"

namespace lumen::plasma {

ArenaAllocator::ArenaAllocator(uint64_t capacity) : capacity_(capacity / kAlignment * kAlignment) {
  if (capacity_ > 0) InsertFree(0, capacity_);
}

uint64_t ArenaAllocator::RoundUp(uint64_t size) {
  if (size == 0) size = 1;
  return (size + kAlignment - 1) / kAlignment * kAlignment;
}

std::optional<uint64_t> ArenaAllocator::Allocate(uint64_t size) {
  if (size > capacity_) return std::nullopt;
  const uint64_t need = RoundUp(size);
  const uint64_t align = need >= kPageAlignFrom ? kPageAlignment : kAlignment;
  auto padding = [align](uint64_t offset) { return (align - offset % align) % align; };
  // The best fit, unless its start needs padding it cannot afford; then the
  // smallest block that fits whatever its start.
  auto best = free_by_size_.lower_bound(need);
  if (best != free_by_size_.end() && best->first < need + padding(best->second)) {
    best = free_by_size_.lower_bound(need + align - kAlignment);
  }
  if (best == free_by_size_.end()) return std::nullopt;
  const uint64_t block_offset = best->second;
  const uint64_t block = best->first;
  const uint64_t pad = padding(block_offset);
  EraseFree(free_by_offset_.find(block_offset));
  if (pad > 0) InsertFree(block_offset, pad);
  if (block > pad + need) InsertFree(block_offset + pad + need, block - pad - need);
  used_.emplace(block_offset + pad, need);
  allocated_bytes_ += need;
  return block_offset + pad;
}

void ArenaAllocator::Free(uint64_t offset) {
  auto used = used_.find(offset);
  CHECK(used != used_.end()) << "free of unknown offset " << offset;
  uint64_t start = offset;
  uint64_t size = used->second;
  allocated_bytes_ -= size;
  used_.erase(used);
  // Merge with the free block that ends where this one starts.
  auto next = free_by_offset_.lower_bound(start);
  if (next != free_by_offset_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second->first == start) {
      start = prev->first;
      size += prev->second->first;
      EraseFree(prev);
    }
  }
  // Merge with the free block that starts where this one ends.
  next = free_by_offset_.find(start + size);
  if (next != free_by_offset_.end()) {
    size += next->second->first;
    EraseFree(next);
  }
  InsertFree(start, size);
}

uint64_t ArenaAllocator::LargestFreeBlock() const {
  return free_by_size_.empty() ? 0 : free_by_size_.rbegin()->first;
}

void ArenaAllocator::InsertFree(uint64_t offset, uint64_t size) {
  auto by_size = free_by_size_.emplace(size, offset);
  free_by_offset_.emplace(offset, by_size);
}

void ArenaAllocator::EraseFree(std::map<uint64_t, BySize::iterator>::iterator it) {
  free_by_size_.erase(it->second);
  free_by_offset_.erase(it);
}

}  // namespace lumen::plasma
