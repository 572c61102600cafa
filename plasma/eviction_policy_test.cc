// Table-driven tests of LruEvictionPolicy: a sequence of events, then the
// victims expected for a number of bytes.
#include "plasma/eviction_policy.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace lumen::plasma {
namespace {

ObjectId Id(char c) { return *ObjectId::FromBinary(std::string(ObjectId::kSize, c)); }

struct Event {
  char op;  // 'a' add, 'r' remove
  char id;
  uint64_t size;
};

struct Case {
  const char* name;
  std::vector<Event> events;
  uint64_t bytes;
  std::string want_victims;  // ids, oldest first
  uint64_t want_evictable;
};

TEST_CASE("lru eviction policy chooses victims", "[plasma][eviction]") {
  const std::vector<Case> cases = {
      {"empty", {}, 100, "", 0},
      {"nothing needed", {{'a', 'x', 10}}, 0, "", 10},
      {"oldest first", {{'a', 'x', 10}, {'a', 'y', 10}, {'a', 'z', 10}}, 15, "xy", 30},
      {"exact fit stops", {{'a', 'x', 10}, {'a', 'y', 10}}, 10, "x", 20},
      {"re-add moves to most recent", {{'a', 'x', 10}, {'a', 'y', 10}, {'a', 'x', 10}}, 5, "y", 20},
      {"removed is not a victim", {{'a', 'x', 10}, {'a', 'y', 20}, {'r', 'x', 0}}, 5, "y", 20},
      {"not enough returns all", {{'a', 'x', 10}, {'a', 'y', 20}}, 1000, "xy", 30},
      {"remove unknown is ignored", {{'r', 'q', 0}, {'a', 'x', 7}}, 1, "x", 7},
      {"large object late", {{'a', 'x', 1}, {'a', 'y', 1}, {'a', 'z', 500}}, 100, "xyz", 502},
  };
  for (const Case& c : cases) {
    SECTION(c.name) {
      LruEvictionPolicy policy;
      for (const Event& e : c.events) {
        if (e.op == 'a') policy.Add(Id(e.id), e.size);
        if (e.op == 'r') policy.Remove(Id(e.id));
      }
      std::string got;
      for (const ObjectId& id : policy.ChooseVictims(c.bytes)) got += static_cast<char>(id.data()[0]);
      CHECK(got == c.want_victims);
      CHECK(policy.evictable_bytes() == c.want_evictable);
      if (!c.want_victims.empty()) {
        REQUIRE(policy.LeastRecentlyUsed().has_value());
        CHECK(policy.LeastRecentlyUsed()->data()[0] == c.want_victims[0]);
      }
    }
  }
}

}  // namespace
}  // namespace lumen::plasma
