// plasma/allocator.h
//
// ArenaAllocator places objects inside the store's one shared-memory arena.
// It hands out offsets (never pointers), 64-byte aligned, and page aligned
// (4096) for blocks of kPageAlignFrom bytes or more, because memcpy into a
// destination 64 bytes past a page boundary from a malloc'd source runs at a
// third of its speed on x86 (4K aliasing). Best fit: free
// blocks live in an ordered multimap by size (for the search) and a map by
// offset (so a freed block merges with free neighbours at once). Allocate and
// Free are O(log n) in the number of free blocks. (A large block whose best
// fit would need padding takes the smallest block that fits with any
// padding instead, so it can miss a tight hole; that keeps it O(log n).) Pure bookkeeping: no memory
// is touched. Threading: not thread-safe; the store loop owns it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>

namespace lumen::plasma {

class ArenaAllocator {
 public:
  static constexpr uint64_t kAlignment = 64;
  static constexpr uint64_t kPageAlignment = 4096;
  static constexpr uint64_t kPageAlignFrom = 64 * 1024;

  // Manages [0, capacity) rounded down to kAlignment.
  explicit ArenaAllocator(uint64_t capacity);

  // Returns the offset of a block of at least `size` bytes (0 counts as 1),
  // or nullopt when no free block is large enough (aligned).
  std::optional<uint64_t> Allocate(uint64_t size);
  // Frees the block at `offset` returned by Allocate. CHECKs it is live.
  void Free(uint64_t offset);

  uint64_t capacity() const { return capacity_; }
  uint64_t allocated_bytes() const { return allocated_bytes_; }
  uint64_t LargestFreeBlock() const;
  size_t free_block_count() const { return free_by_offset_.size(); }
  // Size actually reserved for a request of `size` bytes.
  static uint64_t RoundUp(uint64_t size);

 private:
  using BySize = std::multimap<uint64_t, uint64_t>;  // size -> offset
  void InsertFree(uint64_t offset, uint64_t size);
  void EraseFree(std::map<uint64_t, BySize::iterator>::iterator it);

  uint64_t capacity_;
  uint64_t allocated_bytes_ = 0;
  BySize free_by_size_;
  std::map<uint64_t, BySize::iterator> free_by_offset_;  // offset -> entry
  std::map<uint64_t, uint64_t> used_;                   // offset -> size
};

}  // namespace lumen::plasma
