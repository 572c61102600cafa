// Tests of PlasmaStore with a shared object index, driven by hand: entries
// that clients put through the index, holder bits, dead clients.
#include <cstring>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "plasma/object_index.h"
#include "plasma/store.h"

namespace lumen::plasma {
namespace {

ObjectId Id(char c) { return *ObjectId::FromBinary(std::string(ObjectId::kSize, c)); }

struct Fixture {
  std::vector<uint8_t> arena = std::vector<uint8_t>(1 << 20);
  std::vector<uint8_t> index_memory = std::vector<uint8_t>(ObjectIndex::BytesFor(4096));
  ObjectIndex index = ObjectIndex::Initialize(index_memory.data(), 4096);
  PlasmaStore store{arena.data(), arena.size(), StoreOptions(), &index};
  std::vector<Notification> notes;
  Fixture() {
    store.SetNotificationListener([this](const Notification& note) { notes.push_back(note); });
  }
  // What IndexClient::Put does: an entry in the client's slab, sealed.
  void ClientPut(int slot, char id, uint64_t offset, uint64_t size) {
    IndexLock lock(index);
    IndexEntry* entry = index.Insert(Id(id), true);
    REQUIRE(entry != nullptr);
    entry->offset = offset;
    entry->data_size = size;
    entry->creator = static_cast<uint16_t>(slot);
    entry->state = IndexState::kSealed;
    index.Inserted();
  }
  void Hold(int slot, char id, bool hold) {
    IndexLock lock(index);
    IndexEntry* entry = index.Find(Id(id));
    REQUIRE(entry != nullptr);
    hold ? ObjectIndex::SetHolder(entry, slot) : ObjectIndex::ClearHolder(entry, slot);
  }
  IndexState StateOf(char id) {
    IndexLock lock(index);
    IndexEntry* entry = index.Find(Id(id));
    return entry == nullptr ? IndexState::kEmpty : entry->state;
  }
  uint64_t Slab(ClientId client) {
    CreateReply slab = store.GrantSlab(client);
    REQUIRE(slab.error() == OK);
    REQUIRE(slab.requested() == PlasmaStore::kSlabBytes);
    return slab.offset();
  }
};

CreateRequest Request(const ObjectId& id, uint64_t size) {
  CreateRequest request;
  request.set_id(id.Binary());
  request.set_data_size(size);
  return request;
}

TEST_CASE("objects put through the index are adopted at their notice", "[plasma][store][index]") {
  Fixture f;
  const int slot = f.store.RegisterClient(1);
  REQUIRE(slot == 1);
  const uint64_t slab = f.Slab(1);
  f.ClientPut(slot, 'a', slab, 8);
  CHECK(f.notes.empty());
  f.store.PutNotice(1, {Id('a')});
  REQUIRE(f.notes.size() == 1);
  CHECK(f.store.Contains(Id('a')));
  CHECK(f.store.Create(2, Request(Id('a'), 8)).error() == ALREADY_EXISTS);
  CHECK(f.store.evictable_bytes() == 64);
  f.store.DisconnectClient(1);  // The slab is retired but holds 'a'.
  CHECK(f.store.in_use_bytes() == PlasmaStore::kSlabBytes);
  CHECK(f.store.Delete({Id('a')}).error() == OK);
  CHECK(f.store.in_use_bytes() == 0);
  CHECK(f.StateOf('a') == IndexState::kEmpty);
}

TEST_CASE("an entry not yet announced is adopted when a request names it", "[plasma][store][index]") {
  Fixture f;
  const int slot = f.store.RegisterClient(1);
  const uint64_t slab = f.Slab(1);
  f.ClientPut(slot, 'a', slab, 8);
  CHECK(f.store.Create(2, Request(Id('a'), 8)).error() == ALREADY_EXISTS);
  f.ClientPut(slot, 'b', slab + 64, 8);
  CHECK(f.store.Delete({Id('b')}).error() == OK);
  CHECK(f.StateOf('b') == IndexState::kEmpty);
  f.store.PutNotice(1, {Id('a'), Id('b')});  // Late notices change nothing.
  CHECK(f.store.object_count() == 1);
}

TEST_CASE("an entry outside the client's slab is dropped", "[plasma][store][index]") {
  Fixture f;
  const int slot = f.store.RegisterClient(1);
  const uint64_t slab = f.Slab(1);
  f.ClientPut(slot, 'a', slab + PlasmaStore::kSlabBytes - 8, 64);
  f.store.PutNotice(1, {Id('a')});
  CHECK_FALSE(f.store.Contains(Id('a')));
  CHECK(f.StateOf('a') == IndexState::kEmpty);
}

TEST_CASE("index holds defer deletes and block eviction; a dead client's holds go", "[plasma][store][index]") {
  Fixture f;
  const int reader = f.store.RegisterClient(2);
  REQUIRE(f.store.Create(1, Request(Id('a'), 300 * 1024)).error() == OK);
  REQUIRE(f.store.Seal(1, Id('a')).error() == OK);
  REQUIRE(f.store.Create(1, Request(Id('b'), 300 * 1024)).error() == OK);
  REQUIRE(f.store.Seal(1, Id('b')).error() == OK);
  f.Hold(reader, 'a', true);
  // 'a' is the oldest but held: 'b' goes instead.
  REQUIRE(f.store.Create(1, Request(Id('c'), 500 * 1024)).error() == OK);
  CHECK(f.store.Contains(Id('a')));
  CHECK_FALSE(f.store.Contains(Id('b')));
  CHECK(f.store.Delete({Id('a')}).error() == OK);
  CHECK(f.StateOf('a') == IndexState::kDeletePending);
  f.store.DisconnectClient(2);  // Its bit was the last hold.
  CHECK(f.StateOf('a') == IndexState::kEmpty);
  CHECK_FALSE(f.store.Contains(Id('a')));
}

TEST_CASE("a dead client's unannounced puts survive it", "[plasma][store][index]") {
  Fixture f;
  const int slot = f.store.RegisterClient(1);
  const uint64_t slab = f.Slab(1);
  f.ClientPut(slot, 'a', slab, 8);
  f.Hold(slot, 'a', true);
  f.store.DisconnectClient(1);
  CHECK(f.store.Contains(Id('a')));
  CHECK(f.notes.size() == 1);
  CHECK(f.store.evictable_bytes() == 64);
  CHECK(f.store.RegisterClient(3) == slot);  // The slot is free again.
}

TEST_CASE("an unheld delete-pending object goes at the UnholdNotice", "[plasma][store][index]") {
  Fixture f;
  const int reader = f.store.RegisterClient(2);
  REQUIRE(f.store.Create(1, Request(Id('a'), 10)).error() == OK);
  REQUIRE(f.store.Seal(1, Id('a')).error() == OK);
  f.Hold(reader, 'a', true);
  CHECK(f.store.Delete({Id('a')}).error() == OK);
  f.store.UnholdNotice({Id('a')});  // Still held: ignored.
  CHECK(f.StateOf('a') == IndexState::kDeletePending);
  f.Hold(reader, 'a', false);
  f.store.UnholdNotice({Id('a')});
  CHECK(f.StateOf('a') == IndexState::kEmpty);
  CHECK(f.store.in_use_bytes() == 0);
}

}  // namespace
}  // namespace lumen::plasma
