#include "worker/reference_table.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace lumen;
using namespace lumen::worker;

TEST_CASE("the last reference frees an object, with its ownership and location") {
  std::vector<std::tuple<ObjectId, bool, bool>> freed;
  ReferenceTable refs([&](const ObjectId& id, bool owned, bool in_plasma) {
    freed.emplace_back(id, owned, in_plasma);
  });
  ObjectId owned = ObjectId::FromRandom(), borrowed = ObjectId::FromRandom();
  refs.AddOwned(owned);
  refs.MarkInPlasma(owned);
  refs.Add(owned);
  refs.Add(owned);
  refs.Add(borrowed);
  CHECK(refs.IsOwnedAndAlive(owned));
  CHECK_FALSE(refs.IsOwnedAndAlive(borrowed));
  refs.Remove(owned);
  CHECK(freed.empty());
  refs.Remove(owned);
  REQUIRE(freed.size() == 1);
  CHECK(freed[0] == std::make_tuple(owned, true, true));
  refs.Remove(borrowed);
  REQUIRE(freed.size() == 2);
  CHECK(freed[1] == std::make_tuple(borrowed, false, false));
  CHECK(refs.Size() == 0);
  refs.Remove(borrowed);  // Unknown ids are ignored.
  CHECK(freed.size() == 2);
}
