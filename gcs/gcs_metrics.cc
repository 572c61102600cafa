#include "gcs/gcs_metrics.h"

namespace lumen::gcs {

void AddGcsCollector(metrics::Registry& registry, GcsState& state) {
  metrics::Family* nodes = registry.Gauge("ray_cluster_nodes", "Nodes known to the GCS, by State.");
  metrics::Family* jobs = registry.Gauge("ray_jobs", "Jobs known to the GCS, by State.");
  metrics::Family* actors = registry.Gauge("ray_actors", "Actors known to the GCS, by State.");
  metrics::Family* waiting =
      registry.Gauge("ray_gcs_actors_waiting_for_node", "Actors waiting for a node to fit them.");
  metrics::Family* tables =
      registry.Gauge("ray_gcs_table_size", "Entries in each GCS table, by Table.");
  registry.AddCollector([=, &state] {
    int alive = 0, dead = 0;
    for (const rpc::NodeInfo& node : state.nodes.GetAll()) {
      (node.state() == rpc::NodeInfo::ALIVE ? alive : dead)++;
    }
    nodes->Get({{"State", "ALIVE"}}).Set(alive);
    nodes->Get({{"State", "DEAD"}}).Set(dead);
    int running = 0, finished = 0;
    for (const rpc::JobInfo& job : state.jobs.GetAll()) (job.is_dead() ? finished : running)++;
    jobs->Get({{"State", "RUNNING"}}).Set(running);
    jobs->Get({{"State", "FINISHED"}}).Set(finished);
    int by_state[4] = {0, 0, 0, 0};
    std::vector<rpc::ActorInfo> all_actors = state.actors.List();
    for (const rpc::ActorInfo& actor : all_actors) {
      if (actor.state() >= 0 && actor.state() < 4) by_state[actor.state()]++;
    }
    for (int s = 0; s < 4; ++s) {
      actors->Get({{"State", rpc::ActorInfo::State_Name(static_cast<rpc::ActorInfo::State>(s))}})
          .Set(by_state[s]);
    }
    waiting->Get().Set(static_cast<double>(state.actors.num_waiting_for_node()));
    tables->Get({{"Table", "NODE"}}).Set(alive + dead);
    tables->Get({{"Table", "JOB"}}).Set(running + finished);
    tables->Get({{"Table", "ACTOR"}}).Set(static_cast<double>(all_actors.size()));
  });
}

CountingProber::CountingProber(HealthProber& inner, metrics::Registry& registry)
    : inner_(inner),
      failures_(registry
                    .Counter("ray_gcs_health_check_failures",
                             "Health checks of raylets that failed or timed out.")
                    ->Get()) {}

void CountingProber::Probe(const rpc::NodeInfo& node, int64_t timeout_ms,
                           std::function<void(absl::Status)> done) {
  inner_.Probe(node, timeout_ms, [this, done = std::move(done)](absl::Status status) {
    if (!status.ok()) failures_.Add(1);
    done(std::move(status));
  });
}

}  // namespace lumen::gcs
