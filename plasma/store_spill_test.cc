// Tests of PlasmaStore's owners and spill policy, driven by hand: the spill
// hooks record the orders a raylet would get.
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "plasma/store.h"

namespace lumen::plasma {
namespace {

// A ray::Put id (index 0): owned by the connection that puts it.
ObjectId Id(char c) { return *ObjectId::FromBinary(std::string(ObjectId::kSize - 4, c) + std::string(4, '\0')); }

CreateRequest Request(const ObjectId& id, uint64_t size, bool pin, const std::string& owner = "") {
  CreateRequest request;
  request.set_id(id.Binary());
  request.set_data_size(size);
  request.set_pin(pin);
  request.set_owner(owner);
  return request;
}

SpillResult Spilled(char id, const std::string& error = "") {
  SpillResult result;
  result.set_id(Id(id).Binary());
  result.set_error(error);
  return result;
}

// An arena of five 1280-byte objects.
struct Fixture {
  std::vector<uint8_t> arena = std::vector<uint8_t>(1280 * 5);
  PlasmaStore store{arena.data(), arena.size()};
  std::vector<ObjectId> spill_orders, restore_orders, freed;
  Fixture() {
    store.SetSpillHooks(SpillHooks{
        [this](const std::vector<ObjectId>& ids) { spill_orders.insert(spill_orders.end(), ids.begin(), ids.end()); },
        [this](const std::vector<ObjectId>& ids) { restore_orders.insert(restore_orders.end(), ids.begin(), ids.end()); },
        [this](const std::vector<ObjectId>& ids) { freed.insert(freed.end(), ids.begin(), ids.end()); }});
  }
  void Put(ClientId client, char id, bool pin = true, const std::string& owner = "") {
    REQUIRE(store.Create(client, Request(Id(id), 1280, pin, owner)).error() == OK);
    REQUIRE(store.Seal(client, Id(id)).error() == OK);
  }
  bool Found(ClientId client, char id) {
    bool found = false;
    store.Get(client, {Id(id)}, false, [&](const GetReply& reply) { found = reply.objects_size() == 1 && reply.objects(0).found(); });
    if (found) store.Release(client, Id(id));
    return found;
  }
};

TEST_CASE("an owner's primaries go when its last connection closes", "[plasma][spill]") {
  Fixture f;
  f.store.Identify(1, "driver");
  f.store.Identify(2, "worker");
  f.Put(1, 'a');                     // ray::Put by the driver.
  f.Put(2, 'b', true, "driver");     // A task return the worker sealed for the driver.
  f.Put(2, 'c');                     // The worker's own Put.
  REQUIRE(f.store.Create(2, Request(ObjectId::FromIndex(Id('x').Task(), 1), 64, true)).error() == OK);  // A return, no owner named.
  f.Put(3, 'd', false);              // Not a primary.
  f.store.DisconnectClient(1);
  CHECK_FALSE(f.Found(4, 'a'));
  CHECK_FALSE(f.Found(4, 'b'));
  CHECK(f.Found(4, 'c'));
  CHECK(f.Found(4, 'd'));
  CHECK(f.store.in_use_bytes() == 2 * 1280 + 64);  // And the return being created.
  SECTION("a primary created for an exited owner is not pinned") {
    f.Put(2, 'e', true, "driver");
    CHECK(f.store.evictable_bytes() == 2 * 1280);  // 'd' and 'e'.
  }
  SECTION("a second connection of the same owner keeps them") {
    f.store.Identify(5, "worker");
    f.store.DisconnectClient(2);
    CHECK(f.Found(4, 'c'));
    f.store.DisconnectClient(5);
    CHECK_FALSE(f.Found(4, 'c'));
  }
}

TEST_CASE("a full store orders the least recently used unheld primaries spilled", "[plasma][spill]") {
  Fixture f;
  for (char id : {'a', 'b', 'c', 'd'}) f.Put(1, id);
  REQUIRE(f.store.Create(1, Request(Id('e'), 1280, true)).error() == OK);  // Being created.
  CHECK(f.Found(2, 'a'));  // Read: now the most recently used.
  std::vector<ObjectId> ids = {Id('b')};
  f.store.Get(3, ids, false, [](const GetReply&) {});  // 'b' stays held by client 3.

  CreateReply full = f.store.Create(1, Request(Id('f'), 1280, true));
  CHECK(full.error() == OUT_OF_MEMORY);
  CHECK(full.spill_pending());
  CHECK(f.spill_orders == std::vector<ObjectId>{Id('c')});  // Not 'a' (used), 'b' (held), 'e' (creating).

  SECTION("asking again while the spill runs orders nothing more") {
    CHECK(f.store.Create(1, Request(Id('f'), 1280, true)).spill_pending());
    CHECK(f.spill_orders.size() == 1);
  }
  SECTION("a bigger object orders more, in LRU order") {
    CHECK(f.store.Create(1, Request(Id('g'), 2560, true)).spill_pending());
    CHECK(f.spill_orders == std::vector<ObjectId>{Id('c'), Id('d')});
  }
  SECTION("the spill done, the create fits; a Get orders a restore and waits for it") {
    REQUIRE(f.store.SpillDone(Spilled('c')).error() == OK);
    CHECK(f.store.spilled_bytes() == 1280);
    CHECK(f.store.Contains(Id('c')) == false);
    REQUIRE(f.store.Create(1, Request(Id('f'), 1280, true)).error() == OK);
    REQUIRE(f.store.Seal(1, Id('f')).error() == OK);
    CHECK(f.store.Seal(1, Id('e')).error() == OK);

    bool got = false;
    f.store.Get(2, {Id('c')}, true, [&](const GetReply& reply) { got = reply.objects(0).found(); });
    CHECK(f.restore_orders == std::vector<ObjectId>{Id('c')});
    CHECK_FALSE(got);
    CreateRequest restore = Request(Id('c'), 1280, true);
    restore.set_restore(true);
    CreateReply refill = f.store.Create(9, restore);  // Full again: spill 'd' first.
    CHECK(refill.spill_pending());
    CHECK(f.spill_orders.back() == Id('d'));
    REQUIRE(f.store.SpillDone(Spilled('d')).error() == OK);
    REQUIRE(f.store.Create(9, restore).error() == OK);
    CHECK(f.freed == std::vector<ObjectId>{Id('c')});  // Its file may go.
    REQUIRE(f.store.Seal(9, Id('c')).error() == OK);
    CHECK(got);
    CHECK(f.store.spilled_bytes() == 1280);  // 'd'.

    SECTION("deleting a spilled object frees its file") {
      f.store.Delete({Id('d')});
      CHECK(f.freed.back() == Id('d'));
      CHECK(f.store.spilled_bytes() == 0);
      CHECK(f.store.Stats().spilled_objects() == 0);
      CHECK(f.store.in_use_bytes() == 5 * 1280);  // No block freed for it (a, b, c, e, f remain).
    }
  }
  SECTION("an object read while it was written stays in memory") {
    f.store.Get(4, {Id('c')}, false, [](const GetReply&) {});
    CHECK(f.store.SpillDone(Spilled('c')).error() == NOT_FOUND);
    CHECK(f.store.spilled_bytes() == 0);
  }
  SECTION("a failed spill makes the next create fail with the sizes and the reason") {
    REQUIRE(f.store.SpillDone(Spilled('c', "No space left on device")).error() == OK);
    CreateReply failed = f.store.Create(1, Request(Id('f'), 1280, true));
    CHECK(failed.error() == OUT_OF_MEMORY);
    CHECK_FALSE(failed.spill_pending());
    CHECK(failed.message().find("requested 1280 bytes, capacity 6400") != std::string::npos);
    CHECK(failed.message().find("No space left on device") != std::string::npos);
  }
}

TEST_CASE("without a raylet nothing spills", "[plasma][spill]") {
  std::vector<uint8_t> arena(1280);
  PlasmaStore store{arena.data(), arena.size()};
  REQUIRE(store.Create(1, Request(Id('a'), 1280, true)).error() == OK);
  REQUIRE(store.Seal(1, Id('a')).error() == OK);
  CreateReply full = store.Create(1, Request(Id('b'), 1280, true));
  CHECK(full.error() == OUT_OF_MEMORY);
  CHECK_FALSE(full.spill_pending());
}

}  // namespace
}  // namespace lumen::plasma
