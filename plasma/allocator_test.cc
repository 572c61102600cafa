// Tests of ArenaAllocator: alignment, best fit, merging of free neighbours
// and random create/free sequences checked against a simple model.
#include "plasma/allocator.h"

#include <map>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

namespace lumen::plasma {
namespace {

TEST_CASE("allocator aligns and reserves rounded sizes", "[plasma][allocator]") {
  ArenaAllocator alloc(1 << 20);
  auto a = alloc.Allocate(1);
  auto b = alloc.Allocate(100);
  auto c = alloc.Allocate(0);
  REQUIRE(a.has_value());
  REQUIRE(b.has_value());
  REQUIRE(c.has_value());
  CHECK(*a % 64 == 0);
  CHECK(*b % 64 == 0);
  CHECK(*c % 64 == 0);
  CHECK(*b - *a == 64);
  CHECK(alloc.allocated_bytes() == 64 + 128 + 64);
}

TEST_CASE("allocator refuses what does not fit", "[plasma][allocator]") {
  ArenaAllocator alloc(1000);  // Rounded down to 960.
  CHECK(alloc.capacity() == 960);
  CHECK_FALSE(alloc.Allocate(961).has_value());
  auto all = alloc.Allocate(960);
  REQUIRE(all.has_value());
  CHECK_FALSE(alloc.Allocate(1).has_value());
  alloc.Free(*all);
  CHECK(alloc.LargestFreeBlock() == 960);
}

TEST_CASE("allocator merges free neighbours on both sides", "[plasma][allocator]") {
  ArenaAllocator alloc(64 * 10);
  auto a = *alloc.Allocate(64 * 3);
  auto b = *alloc.Allocate(64 * 3);
  auto c = *alloc.Allocate(64 * 4);
  CHECK_FALSE(alloc.Allocate(1).has_value());
  alloc.Free(a);
  alloc.Free(c);
  CHECK(alloc.free_block_count() == 2);
  CHECK(alloc.LargestFreeBlock() == 64 * 4);
  alloc.Free(b);
  CHECK(alloc.free_block_count() == 1);
  CHECK(alloc.LargestFreeBlock() == 64 * 10);
}

TEST_CASE("allocator picks the best fitting hole", "[plasma][allocator]") {
  ArenaAllocator alloc(64 * 20);
  auto a = *alloc.Allocate(64 * 5);
  auto sep1 = *alloc.Allocate(64);
  auto b = *alloc.Allocate(64 * 2);
  auto sep2 = *alloc.Allocate(64);
  (void)sep1;
  (void)sep2;
  alloc.Free(a);
  alloc.Free(b);
  // Holes: 5 blocks at a, 2 blocks at b, 11 blocks at the end.
  CHECK(*alloc.Allocate(64 * 2) == b);
  CHECK(*alloc.Allocate(64 * 4) == a);
}

TEST_CASE("allocator page-aligns large blocks", "[plasma][allocator]") {
  ArenaAllocator alloc(1 << 20);
  auto small = *alloc.Allocate(64);
  auto large = *alloc.Allocate(100000);
  CHECK(small == 0);
  CHECK(large == 4096);
  CHECK(alloc.Allocate(64) == 64);  // The padding hole is reused.
  alloc.Free(large);
  alloc.Free(small);
  alloc.Free(64);
  CHECK(alloc.free_block_count() == 1);
}

TEST_CASE("allocator random sequences match a model", "[plasma][allocator]") {
  const uint64_t capacity = 1 << 22;
  ArenaAllocator alloc(capacity);
  std::mt19937_64 rng(42);
  std::map<uint64_t, uint64_t> live;  // offset -> requested size
  for (int step = 0; step < 20000; ++step) {
    const bool do_free = !live.empty() && (rng() % 100 < 45);
    if (do_free) {
      auto it = live.begin();
      std::advance(it, rng() % live.size());
      alloc.Free(it->first);
      live.erase(it);
    } else {
      const uint64_t size = (rng() % 8 == 0) ? rng() % 200000 : rng() % 3000;
      auto offset = alloc.Allocate(size);
      if (!offset) {
        const uint64_t need = ArenaAllocator::RoundUp(size);
        const uint64_t worst_padding =
            need >= ArenaAllocator::kPageAlignFrom ? ArenaAllocator::kPageAlignment - ArenaAllocator::kAlignment : 0;
        CHECK(alloc.LargestFreeBlock() < need + worst_padding);
        continue;
      }
      REQUIRE(*offset % 64 == 0);
      if (size >= ArenaAllocator::kPageAlignFrom) REQUIRE(*offset % 4096 == 0);
      REQUIRE(*offset + size <= capacity);
      // No overlap with the neighbours in the model.
      auto next = live.lower_bound(*offset);
      if (next != live.end()) REQUIRE(*offset + ArenaAllocator::RoundUp(size) <= next->first);
      if (next != live.begin()) {
        auto prev = std::prev(next);
        REQUIRE(prev->first + ArenaAllocator::RoundUp(prev->second) <= *offset);
      }
      live.emplace(*offset, size);
    }
    uint64_t model_bytes = 0;
    for (const auto& [off, size] : live) model_bytes += ArenaAllocator::RoundUp(size);
    REQUIRE(alloc.allocated_bytes() == model_bytes);
  }
  for (const auto& [off, size] : live) alloc.Free(off);
  CHECK(alloc.allocated_bytes() == 0);
  CHECK(alloc.free_block_count() == 1);
  auto whole = alloc.Allocate(capacity);
  REQUIRE(whole.has_value());
  CHECK(*whole == 0);
}

}  // namespace
}  // namespace lumen::plasma
