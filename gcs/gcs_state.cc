#include "gcs/gcs_state.h"

#include "common/status.h"

namespace lumen::gcs {

namespace {
// Without a BundleRpc no bundle can be reserved: groups stay PENDING.
class UnavailableBundleRpc : public BundleRpc {
 public:
  void Prepare(const rpc::NodeInfo&, const rpc::BundleRequest&, PrepareDone done) override {
    done(absl::UnavailableError("no raylet connection"), false);
  }
  void Commit(const rpc::NodeInfo&, const rpc::BundleRequest&, Done done) override {
    done(absl::UnavailableError("no raylet connection"));
  }
  void Cancel(const rpc::NodeInfo&, const rpc::BundleRequest&, Done done) override {
    done(absl::UnavailableError("no raylet connection"));
  }
};
UnavailableBundleRpc& NoBundleRpc() {
  static UnavailableBundleRpc* rpc = new UnavailableBundleRpc;
  return *rpc;
}
}  // namespace

GcsState::GcsState(StoreClient& store, const Clock& clock, HealthProber& prober,
                   HealthCheckOptions health_check, ActorRpc& actor_rpc,
                   BundleRpc* bundle_rpc)
    : clock(clock),
      nodes(store, clock),
      jobs(store, clock),
      kv(store),
      publisher(store),
      health(prober, clock, health_check, [this](const std::string& node_id) {
        nodes.MarkDead(node_id, kHealthCheckFailedCause);
      }),
      actors(store, clock, nodes, resources, jobs, actor_rpc),
      placement_groups(store, clock, nodes, resources,
                       bundle_rpc != nullptr ? *bundle_rpc : NoBundleRpc()) {
  placement_groups.set_on_removed([this](const std::string& pg_id) {
    for (const rpc::ActorInfo& actor : actors.List()) {
      if (actor.state() == rpc::ActorInfo::DEAD ||
          actor.creation_spec().placement_group_id() != pg_id) {
        continue;
      }
      (void)actors.Kill(actor.actor_id(), /*no_restart=*/true, "its placement group was removed");
    }
  });
  nodes.AddListener([this](const rpc::NodeInfo& node) {
    resources.OnNodeChange(node);
    health.OnNodeChange(node);
    publisher.Publish(node);
    actors.OnNodeChange(node);  // After the resource view: placement reads it.
    placement_groups.OnNodeChange(node);
  });
}

absl::Status GcsState::Load() {
  RETURN_IF_ERROR(nodes.Load());
  RETURN_IF_ERROR(jobs.Load());
  RETURN_IF_ERROR(kv.Load());
  RETURN_IF_ERROR(actors.Load());
  RETURN_IF_ERROR(placement_groups.Load());
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
