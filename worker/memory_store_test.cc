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
