#include "worker/memory_store.h"

#include <catch2/catch.hpp>
#include <thread>

using namespace lumen;
using namespace lumen::worker;

namespace {
StoredObjectPtr Value(const std::string& data) {
  auto o = std::make_shared<StoredObject>();
  o->data = data;
  return o;
}
}  // namespace

TEST_CASE("memory store returns ready values and times out on missing ones") {
  MemoryStore store;
  ObjectId a = ObjectId::FromRandom(), b = ObjectId::FromRandom();
  store.Put(a, Value("x"));
  auto got = store.Wait({a, b}, 10);
  REQUIRE(got[0]);
  CHECK(got[0]->data == "x");
  CHECK_FALSE(got[1]);
}

TEST_CASE("memory store lists the values in plasma on one node") {
  MemoryStore store;
  auto in_plasma = [](const std::string& node) {
    auto o = std::make_shared<StoredObject>();
    o->in_plasma = true;
    o->node_id = node;
    return o;
  };
  ObjectId on_b = ObjectId::FromRandom(), on_c = ObjectId::FromRandom(), inline_value = ObjectId::FromRandom();
  store.Put(on_b, in_plasma("b"));
  store.Put(on_c, in_plasma("c"));
  auto inline_on_b = std::make_shared<StoredObject>();
  inline_on_b->data = "x";
  inline_on_b->node_id = "b";  // Not in plasma: nothing is lost with b.
  store.Put(inline_value, inline_on_b);
  auto lost = store.InPlasmaOn("b");
  REQUIRE(lost.size() == 1);
  CHECK(lost[0].first == on_b);
  CHECK(lost[0].second->node_id == "b");
  CHECK(store.InPlasmaOn("d").empty());
}

TEST_CASE("memory store wakes waiters and callbacks on Put") {
  MemoryStore store;
  ObjectId a = ObjectId::FromRandom();
  std::string seen;
  store.OnReady(a, [&](StoredObjectPtr o) { seen = o->data; });
  std::thread writer([&] { store.Put(a, Value("late")); });
  auto got = store.Wait({a}, -1);
  writer.join();
  CHECK(got[0]->data == "late");
  CHECK(seen == "late");
}

TEST_CASE("WaitAny returns once enough objects are ready") {
  MemoryStore store;
  ObjectId a = ObjectId::FromRandom(), b = ObjectId::FromRandom(), c = ObjectId::FromRandom();
  store.Put(b, Value("b"));
  auto ready = store.WaitAny({a, b, c}, 1, 1000);
  CHECK(ready == std::vector<bool>{false, true, false});
  auto timed_out = store.WaitAny({a, b, c}, 2, 10);
  CHECK(timed_out == std::vector<bool>{false, true, false});
}

TEST_CASE("a Wait on many ids is filled by Puts from another thread, each id once") {
  MemoryStore store;
  constexpr int kN = 200000;
  std::vector<ObjectId> ids;
  for (int i = 0; i < kN; ++i) ids.push_back(ObjectId::FromRandom());
  std::thread writer([&] {
    for (int i = kN - 1; i >= 0; --i) store.Put(ids[i], Value(std::to_string(i)));
  });
  auto got = store.Wait(ids, -1);
  writer.join();
  for (int i = 0; i < kN; i += 9973) {
    REQUIRE(got[i]);
    CHECK(got[i]->data == std::to_string(i));
  }
  int missing = 0;
  for (const auto& g : got) missing += g == nullptr;
  CHECK(missing == 0);
}

TEST_CASE("a timed-out Wait unregisters itself: a later Put touches no dead waiter") {
  MemoryStore store;
  ObjectId a = ObjectId::FromRandom(), b = ObjectId::FromRandom();
  {
    auto got = store.Wait({a, b, a}, 5);
    CHECK_FALSE(got[0]);
    CHECK_FALSE(got[2]);
  }
  {
    auto ready = store.WaitAny({a, b}, 1, 5);
    CHECK(ready == std::vector<bool>{false, false});
  }
  // Under AddressSanitizer a registration left behind is a use after free here.
  store.Put(a, Value("a"));
  store.Put(b, Value("b"));
  auto got = store.Wait({a, b}, 0);
  CHECK(got[0]->data == "a");
  CHECK(got[1]->data == "b");
}

TEST_CASE("duplicate ids in one Wait are all filled by one Put") {
  MemoryStore store;
  ObjectId a = ObjectId::FromRandom();
  std::thread writer([&] { store.Put(a, Value("dup")); });
  auto got = store.Wait({a, a, a}, -1);
  writer.join();
  for (const auto& g : got) {
    REQUIRE(g);
    CHECK(g->data == "dup");
  }
}

TEST_CASE("WaitAny flags at most num_ready ids even when more land before it wakes") {
  MemoryStore store;
  std::vector<ObjectId> ids;
  for (int i = 0; i < 50; ++i) ids.push_back(ObjectId::FromRandom());
  std::thread writer([&] {
    for (const auto& id : ids) store.Put(id, Value("v"));
  });
  auto ready = store.WaitAny(ids, 3, -1);
  writer.join();
  int flagged = 0;
  for (bool r : ready) flagged += r;
  CHECK(flagged == 3);
}

TEST_CASE("Erase drops a stored value; Size counts what is stored") {
  MemoryStore store;
  ObjectId a = ObjectId::FromRandom();
  store.Put(a, Value("x"));
  CHECK(store.Size() == 1);
  store.Erase(a);
  CHECK(store.Size() == 0);
  CHECK_FALSE(store.GetIfReady(a));
}

TEST_CASE("OnReady callbacks of an erased id are answered with nullptr, once") {
  MemoryStore store;
  ObjectId a = ObjectId::FromRandom();
  int calls = 0;
  bool got_null = false;
  store.OnReady(a, [&](StoredObjectPtr o) {
    ++calls;
    got_null = o == nullptr;
  });
  CHECK(store.NumCallbacks() == 1);
  store.Erase(a);
  CHECK(calls == 1);
  CHECK(got_null);
  CHECK(store.NumCallbacks() == 0);
  store.Put(a, Value("late"));  // Nobody is told twice.
  CHECK(calls == 1);
}
