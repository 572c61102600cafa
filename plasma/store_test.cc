// Tests of PlasmaStore driven by hand: no sockets, no loop, no clock.
#include "plasma/store.h"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace lumen::plasma {
namespace {

ObjectId Id(char c) { return *ObjectId::FromBinary(std::string(ObjectId::kSize, c)); }

CreateRequest Request(const ObjectId& id, uint64_t size, bool pin = false) {
  CreateRequest request;
  request.set_id(id.Binary());
  request.set_data_size(size);
  request.set_pin(pin);
  return request;
}

struct Fixture {
  std::vector<uint8_t> arena = std::vector<uint8_t>(64 * 100);
  PlasmaStore store{arena.data(), arena.size()};
  std::vector<Notification> notes;
  Fixture() {
    store.SetNotificationListener([this](const Notification& note) { notes.push_back(note); });
  }
  void Put(ClientId client, char id, uint64_t size, bool pin = false) {
    REQUIRE(store.Create(client, Request(Id(id), size, pin)).error() == OK);
    REQUIRE(store.Seal(client, Id(id)).error() == OK);
  }
  GetReply GetNow(ClientId client, std::vector<ObjectId> ids) {
    GetReply out;
    store.Get(client, ids, false, [&](const GetReply& reply) { out = reply; });
    return out;
  }
};

TEST_CASE("store create seal get release", "[plasma][store]") {
  Fixture f;
  CreateReply created = f.store.Create(1, Request(Id('a'), 100));
  REQUIRE(created.error() == OK);
  CHECK_FALSE(f.store.Contains(Id('a')));
  CHECK(f.store.Seal(1, Id('a')).error() == OK);
  CHECK(f.store.Contains(Id('a')));
  REQUIRE(f.notes.size() == 1);
  CHECK_FALSE(f.notes[0].deleted());
  GetReply got = f.GetNow(2, {Id('a'), Id('b')});
  REQUIRE(got.objects_size() == 2);
  CHECK(got.objects(0).found());
  CHECK(got.objects(0).offset() == created.offset());
  CHECK(got.objects(0).data_size() == 100);
  CHECK_FALSE(got.objects(1).found());
  CHECK(f.store.evictable_bytes() == 0);  // Held by client 2.
  f.store.Release(2, Id('a'));
  CHECK(f.store.evictable_bytes() == 128);
}

TEST_CASE("store distinct errors", "[plasma][store]") {
  Fixture f;
  f.Put(1, 'a', 10);
  CHECK(f.store.Create(1, Request(Id('a'), 10)).error() == ALREADY_EXISTS);
  CHECK(f.store.Seal(1, Id('z')).error() == NOT_FOUND);
  CHECK(f.store.Seal(1, Id('a')).error() == ALREADY_SEALED);
  REQUIRE(f.store.Create(1, Request(Id('b'), 10)).error() == OK);
  CHECK(f.store.Seal(2, Id('b')).error() == NOT_OWNER);
  CHECK(f.store.Abort(2, Id('b')).error() == NOT_OWNER);
  CHECK(f.store.Abort(1, Id('b')).error() == OK);
  CHECK(f.store.Abort(1, Id('a')).error() == ALREADY_SEALED);
  CHECK(f.store.Delete({Id('a')}).error() == OK);
  CHECK(f.GetNow(1, {Id('a')}).error() == DELETED);
  CreateRequest bad;
  bad.set_id("short");
  CHECK(f.store.Create(1, bad).error() == INVALID_REQUEST);
}

TEST_CASE("store evicts least recently used and reports a full store", "[plasma][store]") {
  Fixture f;  // 6400 bytes.
  f.Put(1, 'a', 2000);
  f.Put(1, 'b', 2000);
  f.Put(1, 'c', 2000, /*pin=*/true);
  f.notes.clear();
  REQUIRE(f.store.Create(1, Request(Id('d'), 2000)).error() == OK);  // Evicts a.
  CHECK_FALSE(f.store.Contains(Id('a')));
  CHECK(f.store.Contains(Id('b')));
  REQUIRE(f.notes.size() == 1);
  CHECK(f.notes[0].deleted());
  // d is unsealed and c pinned: nothing else may go.
  f.GetNow(2, {Id('b')});
  CreateReply full = f.store.Create(1, Request(Id('e'), 2000));
  CHECK(full.error() == OUT_OF_MEMORY);
  CHECK(full.requested() == 2000);
  CHECK(full.capacity() == 6400);
  CHECK(full.evictable() == 0);
  CHECK(full.message().find("object store full") != std::string::npos);
  CHECK(f.store.Contains(Id('b')));  // Nothing evicted in vain.
  CHECK(f.store.Pin({Id('c')}, false).error() == OK);
  CHECK(f.store.Create(1, Request(Id('e'), 2000)).error() == OK);
  CHECK_FALSE(f.store.Contains(Id('c')));
}

TEST_CASE("store completes waiting gets at seal or expiry", "[plasma][store]") {
  Fixture f;
  int calls = 0;
  GetReply last;
  auto callback = [&](const GetReply& reply) {
    ++calls;
    last = reply;
  };
  uint64_t request = f.store.Get(2, {Id('a'), Id('b')}, true, callback);
  CHECK(request != 0);
  f.Put(1, 'a', 10);
  CHECK(calls == 0);
  f.Put(1, 'b', 10);
  CHECK(calls == 1);
  CHECK(last.objects(1).found());
  f.store.ExpireGet(request);  // Already done: no-op.
  CHECK(calls == 1);
  uint64_t second = f.store.Get(2, {Id('a'), Id('c')}, true, callback);
  f.store.ExpireGet(second);
  CHECK(calls == 2);
  CHECK(last.objects(0).found());
  CHECK_FALSE(last.objects(1).found());
}

TEST_CASE("store cleans up after a disconnected client", "[plasma][store]") {
  Fixture f;
  f.Put(1, 'a', 1000);
  REQUIRE(f.store.Create(2, Request(Id('b'), 5000)).error() == OK);
  f.GetNow(2, {Id('a')});
  int calls = 0;
  f.store.Get(2, {Id('c')}, true, [&](const GetReply&) { ++calls; });
  f.store.DisconnectClient(2);
  CHECK(f.store.object_count() == 1);
  CHECK(f.store.evictable_bytes() == 1024);
  f.Put(1, 'c', 10);
  CHECK(calls == 0);
  CHECK(f.store.Create(3, Request(Id('d'), 6400 - 1024 - 64)).error() == OK);
}

TEST_CASE("store defers delete of a held object to its release", "[plasma][store]") {
  Fixture f;
  f.Put(1, 'a', 10);
  f.GetNow(2, {Id('a')});
  CHECK(f.store.Delete({Id('a')}).error() == OK);
  CHECK(f.store.Contains(Id('a')));
  f.store.Release(2, Id('a'));
  CHECK_FALSE(f.store.Contains(Id('a')));
  CHECK(f.store.in_use_bytes() == 0);
}

TEST_CASE("store create and seal with inline data", "[plasma][store]") {
  Fixture f;
  CreateRequest request = Request(Id('a'), 5);
  request.set_metadata_size(2);
  request.set_seal(true);
  request.set_inline_data("hellomd");
  CreateReply reply = f.store.Create(1, request);
  REQUIRE(reply.error() == OK);
  CHECK(f.store.Contains(Id('a')));
  CHECK(std::string(reinterpret_cast<char*>(f.arena.data() + reply.offset()), 7) == "hellomd");
  request.set_id(Id('b').Binary());
  request.set_inline_data("short");
  CHECK(f.store.Create(1, request).error() == INVALID_REQUEST);
}

}  // namespace
}  // namespace lumen::plasma
