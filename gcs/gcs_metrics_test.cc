// The GCS's metrics read from GcsState (driven by hand) and the health
// checks counted as they fail.
#include "gcs/gcs_metrics.h"

#include <catch2/catch.hpp>

#include "gcs/actor_test_util.h"
#include "gcs/store/in_memory_store_client.h"
#include "gcs/test_util.h"

using namespace lumen;
using namespace lumen::gcs;
using lumen::gcs::testing::FakeProber;
using lumen::gcs::testing::MakeNode;

namespace {

bool Has(const std::string& text, const std::string& line) {
  return text.find(line + "\n") != std::string::npos;
}

}  // namespace

TEST_CASE("GCS gauges follow the node and job tables; failed health checks are counted") {
  InMemoryStoreClient store;
  FakeClock clock{0};
  FakeProber prober;
  metrics::Registry registry;
  CountingProber counting(prober, registry);
  testing::FakeActorRpc actor_rpc;
  GcsState state(store, clock, counting, HealthCheckOptions{}, actor_rpc);
  REQUIRE(state.Load().ok());
  AddGcsCollector(registry, state);

  auto a = MakeNode(7000), b = MakeNode(7001);
  REQUIRE(state.nodes.Register(a).ok());
  REQUIRE(state.nodes.Register(b).ok());
  rpc::JobInfo job;
  REQUIRE(state.jobs.AddJob(job).ok());
  std::string text = registry.Render();
  CHECK(Has(text, "ray_cluster_nodes{State=\"ALIVE\"} 2"));
  CHECK(Has(text, "ray_cluster_nodes{State=\"DEAD\"} 0"));
  CHECK(Has(text, "ray_jobs{State=\"RUNNING\"} 1"));
  CHECK(Has(text, "ray_gcs_table_size{Table=\"NODE\"} 2"));
  CHECK(Has(text, "ray_actors{State=\"ALIVE\"} 0"));
  CHECK(Has(text, "ray_gcs_health_check_failures_total 0"));

  // Node b stops answering: three failed checks, then it is dead.
  for (int i = 0; i < 3; ++i) {
    state.health.Tick();
    while (!prober.pending.empty()) {
      const bool is_b = prober.pending.front().node_id == b.node_id();
      prober.AnswerNext(is_b ? absl::UnavailableError("refused") : absl::OkStatus());
    }
    clock.AdvanceMs(1000);
  }
  text = registry.Render();
  CHECK(Has(text, "ray_cluster_nodes{State=\"ALIVE\"} 1"));
  CHECK(Has(text, "ray_cluster_nodes{State=\"DEAD\"} 1"));
  CHECK(Has(text, "ray_gcs_health_check_failures_total 3"));
}
