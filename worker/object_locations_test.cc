#include "worker/object_locations.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <map>
#include <thread>
#include <vector>

using namespace lumen;
using namespace lumen::worker;

TEST_CASE("ObjectLocations keeps each copy once, in report order, until taken") {
  ObjectLocations locations;
  ObjectId id = ObjectId::FromRandom();
  CHECK(locations.Empty());
  CHECK(locations.Add(id, "c"));
  CHECK(locations.Add(id, "d"));
  CHECK_FALSE(locations.Add(id, "c"));
  CHECK(locations.Get(id) == std::vector<std::string>{"c", "d"});
  CHECK(locations.Size() == 1);
  CHECK(locations.Get(ObjectId::FromRandom()).empty());
  CHECK(locations.Take(id) == std::vector<std::string>{"c", "d"});
  CHECK(locations.Empty());
  CHECK(locations.Take(id).empty());
}

TEST_CASE("ObjectLocations::ForgetNode drops a dead node's copies of every object") {
  ObjectLocations locations;
  ObjectId a = ObjectId::FromRandom(), b = ObjectId::FromRandom(), c = ObjectId::FromRandom();
  locations.Add(a, "dead");
  locations.Add(a, "d");
  locations.Add(b, "dead");
  locations.Add(c, "d");
  CHECK(locations.ForgetNode("dead") == 2);
  CHECK(locations.Get(a) == std::vector<std::string>{"d"});
  CHECK(locations.Get(b).empty());
  CHECK(locations.Get(c) == std::vector<std::string>{"d"});
  CHECK(locations.Size() == 2);  // b had no other copy: forgotten whole.
  CHECK(locations.ForgetNode("dead") == 0);
}

TEST_CASE("ObjectLocations::FailOver moves the recorded location to the oldest copy") {
  ObjectLocations locations;
  ObjectId id = ObjectId::FromRandom();
  locations.Add(id, "c");
  locations.Add(id, "d");
  std::string recorded = "b";
  auto still_lost = [&] { return recorded == "b"; };
  auto use = [&](const std::string& node) { recorded = node; };
  CHECK(locations.FailOver(id, "b", still_lost, use) == std::optional<std::string>("c"));
  CHECK(recorded == "c");
  CHECK(locations.Get(id) == std::vector<std::string>{"d"});
  // A second Get that read the old location: the value moved already.
  CHECK_FALSE(locations.FailOver(id, "b", still_lost, use).has_value());
  CHECK(recorded == "c");
  // The new location is lost too: the next copy; then none is left.
  auto still_lost_c = [&] { return recorded == "c"; };
  CHECK(locations.FailOver(id, "c", still_lost_c, use) == std::optional<std::string>("d"));
  CHECK(locations.Empty());
  auto still_lost_d = [&] { return recorded == "d"; };
  CHECK_FALSE(locations.FailOver(id, "d", still_lost_d, use).has_value());
  CHECK(recorded == "d");
}

TEST_CASE("ObjectLocations::FailOver forgets a lost copy that is not the recorded location") {
  ObjectLocations locations;
  ObjectId id = ObjectId::FromRandom();
  locations.Add(id, "c");
  locations.Add(id, "d");
  bool used = false;
  CHECK_FALSE(locations.FailOver(id, "c", [] { return false; }, [&](const std::string&) { used = true; })
                  .has_value());
  CHECK_FALSE(used);
  CHECK(locations.Get(id) == std::vector<std::string>{"d"});
}

TEST_CASE("ObjectLocations: concurrent FailOvers of one lost object pick one copy") {
  ObjectLocations locations;
  ObjectId id = ObjectId::FromRandom();
  for (const char* node : {"c", "d", "e"}) locations.Add(id, node);
  std::string recorded = "b";  // Guarded by FailOver's lock.
  std::atomic<int> moved{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (locations.FailOver(id, "b", [&] { return recorded == "b"; },
                             [&](const std::string& node) { recorded = node; })) {
        ++moved;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(moved == 1);
  CHECK(recorded == "c");
  CHECK(locations.Get(id) == std::vector<std::string>{"d", "e"});
}

TEST_CASE("RemoteFrees batches deletes per node and asks for one flush") {
  RemoteFrees frees;
  std::vector<ObjectId> ids;
  for (size_t i = 0; i < RemoteFrees::kMaxBatch + 5; ++i) ids.push_back(ObjectId::FromRandom());
  CHECK(frees.Add("b", ids[0]));
  for (size_t i = 1; i < ids.size(); ++i) CHECK_FALSE(frees.Add("b", ids[i]));
  CHECK_FALSE(frees.Add("c", ids[0]));
  std::map<std::string, std::vector<size_t>> calls;
  frees.Flush([&](const std::string& node, std::vector<ObjectId> batch) {
    calls[node].push_back(batch.size());
  });
  CHECK(calls["b"] == std::vector<size_t>{RemoteFrees::kMaxBatch, 5});
  CHECK(calls["c"] == std::vector<size_t>{1});
  // Emptied: the next Add asks for a flush again, and an empty flush sends nothing.
  int sent = 0;
  frees.Flush([&](const std::string&, std::vector<ObjectId>) { ++sent; });
  CHECK(sent == 0);
  CHECK(frees.Add("b", ids[0]));
}
