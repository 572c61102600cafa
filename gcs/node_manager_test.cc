#include "gcs/node_manager.h"

#include <catch2/catch.hpp>

#include "gcs/store/in_memory_store_client.h"
#include "gcs/tables.h"
#include "gcs/test_util.h"

using namespace lumen;
using namespace lumen::gcs;
using lumen::gcs::testing::MakeNode;

TEST_CASE("registered nodes are alive, listed and announced") {
  InMemoryStoreClient store;
  FakeClock clock;
  NodeManager nodes(store, clock);
  std::vector<rpc::NodeInfo> seen;
  nodes.AddListener([&](const rpc::NodeInfo& n) { seen.push_back(n); });
  auto node = MakeNode();
  REQUIRE(nodes.Register(node).ok());
  CHECK(nodes.IsAlive(node.node_id()));
  CHECK(nodes.GetAll().size() == 1);
  CHECK(nodes.Find(node.node_id())->start_time_ms() == clock.WallMs());
  REQUIRE(seen.size() == 1);
  CHECK(seen[0].state() == rpc::NodeInfo::ALIVE);
  CHECK(store.Get(kNodeTable, IdHex(node.node_id())).value().has_value());
}

TEST_CASE("a node id of the wrong size is refused") {
  InMemoryStoreClient store;
  FakeClock clock;
  NodeManager nodes(store, clock);
  auto node = MakeNode();
  node.set_node_id("short");
  CHECK(absl::IsInvalidArgument(nodes.Register(node)));
  CHECK(nodes.GetAll().empty());
}

TEST_CASE("unregistering marks a node dead with cause and end time") {
  InMemoryStoreClient store;
  FakeClock clock;
  NodeManager nodes(store, clock);
  auto node = MakeNode();
  REQUIRE(nodes.Register(node).ok());
  clock.AdvanceMs(500);
  REQUIRE(nodes.Unregister(node.node_id(), "").ok());
  const rpc::NodeInfo* dead = nodes.Find(node.node_id());
  CHECK(dead->state() == rpc::NodeInfo::DEAD);
  CHECK(dead->death_cause() == "unregistered");
  CHECK(dead->end_time_ms() == clock.WallMs());
  CHECK(nodes.GetAlive().empty());
  CHECK(nodes.GetAll().size() == 1);

  auto other = MakeNode();
  REQUIRE(nodes.Register(other).ok());
  REQUIRE(nodes.Unregister(other.node_id(), "lumen stop").ok());
  CHECK(nodes.Find(other.node_id())->death_cause() == "lumen stop");
  CHECK(absl::IsNotFound(nodes.Unregister(MakeNode().node_id(), "")));
}

TEST_CASE("re-registering a dead node makes it alive again") {
  InMemoryStoreClient store;
  FakeClock clock;
  NodeManager nodes(store, clock);
  auto node = MakeNode();
  REQUIRE(nodes.Register(node).ok());
  nodes.MarkDead(node.node_id(), "health check failed");
  REQUIRE_FALSE(nodes.IsAlive(node.node_id()));
  REQUIRE(nodes.Register(node).ok());
  const rpc::NodeInfo* back = nodes.Find(node.node_id());
  CHECK(back->state() == rpc::NodeInfo::ALIVE);
  CHECK(back->death_cause().empty());
  CHECK(back->end_time_ms() == 0);
  CHECK(nodes.GetAll().size() == 1);
}

TEST_CASE("MarkDead leaves unknown and already dead nodes alone") {
  InMemoryStoreClient store;
  FakeClock clock;
  NodeManager nodes(store, clock);
  int changes = 0;
  nodes.AddListener([&](const rpc::NodeInfo&) { ++changes; });
  auto node = MakeNode();
  REQUIRE(nodes.Register(node).ok());
  nodes.MarkDead(node.node_id(), "first");
  nodes.MarkDead(node.node_id(), "second");
  nodes.MarkDead(MakeNode().node_id(), "unknown");
  CHECK(changes == 2);
  CHECK(nodes.Find(node.node_id())->death_cause() == "first");
}

TEST_CASE("the node table reloads from the store") {
  InMemoryStoreClient store;
  FakeClock clock;
  auto alive = MakeNode(), dead = MakeNode();
  {
    NodeManager nodes(store, clock);
    REQUIRE(nodes.Register(alive).ok());
    REQUIRE(nodes.Register(dead).ok());
    REQUIRE(nodes.Unregister(dead.node_id(), "").ok());
  }
  NodeManager reloaded(store, clock);
  REQUIRE(reloaded.Load().ok());
  CHECK(reloaded.IsAlive(alive.node_id()));
  CHECK(reloaded.Find(dead.node_id())->death_cause() == "unregistered");
}
