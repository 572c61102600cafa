// gcs/gcs_state.h
//
// GcsState is everything the GCS knows, as one object owned by the GCS
// loop: the node table, resource view, job table, internal KV, node-change
// pub/sub, health checker and actors, wired together (a node change reaches
// the pub/sub, the resource view, the health checker and the actors; the
// health checker's verdicts reach the node table). GcsServer owns it; tests
// build it over an InMemoryStoreClient, a FakeClock, a fake prober and a
// fake ActorRpc and drive it by hand.
// Threading: the GCS loop only.
// Failure: Load() returns the store's error (the GCS then refuses to start).
#pragma once

#include "common/clock.h"
#include "gcs/actor_manager.h"
#include "gcs/actor_rpc.h"
#include "gcs/health_checker.h"
#include "gcs/job_manager.h"
#include "gcs/kv_manager.h"
#include "gcs/node_change_publisher.h"
#include "gcs/node_manager.h"
#include "gcs/placement_group_manager.h"
#include "gcs/resource_manager.h"
#include "gcs/store/store_client.h"

namespace lumen::gcs {

inline constexpr char kHealthCheckFailedCause[] = "health check failed";

class GcsState {
 public:
  // Collaborators are not owned and must outlive the state.
  GcsState(StoreClient& store, const Clock& clock, HealthProber& prober,
           HealthCheckOptions health_check, ActorRpc& actor_rpc,
           BundleRpc* bundle_rpc = nullptr);  // Null: bundle calls fail (UNAVAILABLE).
  GcsState(const GcsState&) = delete;
  GcsState& operator=(const GcsState&) = delete;

  // Reloads every persisted table; nodes loaded as ALIVE get a resource
  // view and are health-checked again.
  absl::Status Load();

  const Clock& clock;
  NodeManager nodes;
  ResourceManager resources;
  JobManager jobs;
  KvManager kv;
  NodeChangePublisher publisher;
  HealthChecker health;
  ActorManager actors;
  PlacementGroupManager placement_groups;
};

}  // namespace lumen::gcs
