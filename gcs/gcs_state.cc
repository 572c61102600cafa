#include "gcs/gcs_state.h"

#include "common/status.h"

namespace lumen::gcs {

GcsState::GcsState(StoreClient& store, const Clock& clock, HealthProber& prober,
                   HealthCheckOptions health_check, ActorRpc& actor_rpc)
    : clock(clock),
      nodes(store, clock),
      jobs(store, clock),
      kv(store),
      publisher(store),
      health(prober, clock, health_check, [this](const std::string& node_id) {
        nodes.MarkDead(node_id, kHealthCheckFailedCause);
      }),
      actors(store, clock, nodes, resources, jobs, actor_rpc) {
  nodes.AddListener([this](const rpc::NodeInfo& node) {
    resources.OnNodeChange(node);
    health.OnNodeChange(node);
    publisher.Publish(node);
    actors.OnNodeChange(node);  // After the resource view: placement reads it.
  });
}

absl::Status GcsState::Load() {
  RETURN_IF_ERROR(nodes.Load());
  RETURN_IF_ERROR(jobs.Load());
  RETURN_IF_ERROR(kv.Load());
  RETURN_IF_ERROR(actors.Load());
  std::vector<rpc::NodeInfo> all = nodes.GetAll();
  RETURN_IF_ERROR(publisher.Load(all));
  for (const auto& node : all) {
    if (node.state() != rpc::NodeInfo::ALIVE) continue;
    resources.OnNodeChange(node);
    health.OnNodeChange(node);
  }
  return absl::OkStatus();
}

}  // namespace lumen::gcs
