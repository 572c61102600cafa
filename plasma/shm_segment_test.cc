// Tests of the arena sizing rule and of creating a small segment.
#include "plasma/shm_segment.h"

#include <cstring>

#include <catch2/catch.hpp>

namespace lumen::plasma {
namespace {

constexpr uint64_t kGiB = 1ull << 30;

TEST_CASE("arena size defaults to 30% of RAM capped by shm", "[plasma][shm]") {
  auto plenty = ChooseArenaSize(0, 10 * kGiB, 20 * kGiB);
  REQUIRE(plenty.ok());
  CHECK(plenty->bytes == 10 * kGiB / 10 * 3);
  CHECK(plenty->warning.empty());

  auto capped = ChooseArenaSize(0, 10 * kGiB, kGiB);
  REQUIRE(capped.ok());
  CHECK(capped->bytes == kGiB);
  CHECK(capped->warning.find("/dev/shm") != std::string::npos);

  auto explicit_size = ChooseArenaSize(2 * kGiB, 10 * kGiB, 20 * kGiB);
  REQUIRE(explicit_size.ok());
  CHECK(explicit_size->bytes == 2 * kGiB);

  CHECK(ChooseArenaSize(30 * kGiB, 10 * kGiB, 20 * kGiB).status().code() == absl::StatusCode::kResourceExhausted);
  CHECK(ChooseArenaSize(100, 10 * kGiB, 20 * kGiB).status().code() == absl::StatusCode::kInvalidArgument);
  CHECK_FALSE(ChooseArenaSize(0, 10 * kGiB, 1000).ok());
}

TEST_CASE("segment is created unlinked and mapped", "[plasma][shm]") {
  auto segment = ShmSegment::Create("/dev/shm", 4 << 20);
  REQUIRE(segment.ok());
  (*segment)->Prefault();
  std::memset((*segment)->base(), 7, (*segment)->size());
  CHECK((*segment)->base()[(4 << 20) - 1] == 7);
  CHECK((*segment)->fd() >= 0);
}

}  // namespace
}  // namespace lumen::plasma
