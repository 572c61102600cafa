// GcsState wired as in the daemon, driven by hand: node changes reach the
// resource view, pub/sub and health checker; a second GcsState over the
// same store (a GCS restart) finds every table again.
#include "gcs/gcs_state.h"

#include <catch2/catch.hpp>

#include "gcs/store/in_memory_store_client.h"
#include "gcs/actor_test_util.h"
#include "gcs/test_util.h"

using namespace lumen;
using namespace lumen::gcs;
using lumen::gcs::testing::FakeProber;
using lumen::gcs::testing::MakeNode;

namespace {

struct Gcs {
  explicit Gcs(StoreClient& store)
      : state(store, clock, prober, HealthCheckOptions{}, actor_rpc) {
    REQUIRE(state.Load().ok());
  }
  FakeClock clock{0};
  FakeProber prober;
  testing::FakeActorRpc actor_rpc;
  GcsState state;
};

}  // namespace

TEST_CASE("a node that stops answering health checks is dead everywhere") {
  InMemoryStoreClient store;
  Gcs gcs(store);
  auto node = MakeNode();
  REQUIRE(gcs.state.nodes.Register(node).ok());
  CHECK(gcs.state.resources.Find(node.node_id()) != nullptr);
  for (int i = 0; i < 3; ++i) {
    gcs.state.health.Tick();
    gcs.prober.AnswerAll(absl::UnavailableError("refused"));
    gcs.clock.AdvanceMs(1000);
  }
  const rpc::NodeInfo* info = gcs.state.nodes.Find(node.node_id());
  CHECK(info->state() == rpc::NodeInfo::DEAD);
  CHECK(info->death_cause() == "health check failed");
  CHECK(gcs.state.resources.Find(node.node_id()) == nullptr);
  CHECK(gcs.state.publisher.last_seq() == 2);  // Registered, then dead.
}

TEST_CASE("a restarted GCS on the same store reloads tables and re-checks alive nodes") {
  InMemoryStoreClient store;
  auto alive = MakeNode(), gone = MakeNode();
  {
    Gcs before(store);
    REQUIRE(before.state.nodes.Register(alive).ok());
    REQUIRE(before.state.nodes.Register(gone).ok());
    REQUIRE(before.state.nodes.Unregister(gone.node_id(), "").ok());
    REQUIRE(before.state.jobs.AddJob(rpc::JobInfo()).ok());
    REQUIRE(before.state.kv.Put("ns", "k", "v", true).ok());
  }
  Gcs after(store);
  CHECK(after.state.nodes.IsAlive(alive.node_id()));
  CHECK_FALSE(after.state.nodes.IsAlive(gone.node_id()));
  CHECK(after.state.jobs.AddJob(rpc::JobInfo()).value().ToInt() == 2);
  CHECK(after.state.kv.Get("ns", "k") == std::optional<std::string>("v"));
  // The raylet of the alive node keeps reporting: accepted.
  rpc::ResourceView report;
  report.set_node_id(alive.node_id());
  CHECK(after.state.resources.Report(report));
  // And it is health-checked again.
  after.state.health.Tick();
  REQUIRE(after.prober.pending.size() == 1);
  CHECK(after.prober.pending.front().node_id == alive.node_id());
}
