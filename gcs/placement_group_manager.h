// gcs/placement_group_manager.h
//
// PlacementGroupManager runs every placement group's life at the GCS
// (docs/scheduling.md, "Placement groups"):
//
//   Create -> PENDING -> (choose nodes: placement_group_policy.h over the
//   resource view) -> Prepare every bundle on its raylet -> all prepared ?
//   Commit every bundle -> CREATED : Cancel the prepared ones, stay PENDING
//   (tried again on Tick, every second, and when a node joins).
//   Remove (any state) -> the group's actors are killed (the on_removed
//   listener), every reserved bundle is cancelled on its raylet (which kills
//   the workers leased from it) -> REMOVED.
//   A node holding bundles dies -> the group is RESCHEDULING: only the
//   bundles lost with the node are placed again (as Ray does); the others
//   keep their reservations, and what runs in them keeps running.
//
// One group is scheduled at a time (its prepares and commits in flight);
// the others wait in creation order. Answers of an attempt given up
// (removed, node died) are ignored, and a bundle such an answer says was
// prepared is cancelled. Groups are persisted in the PLACEMENT_GROUP table;
// on Load, a group that was being scheduled is PENDING again (the raylets
// drop nothing: a bundle prepared then is leaked until its node restarts,
// documented in docs/scheduling.md).
// Threading: the GCS loop only. Failure: Create returns INVALID_ARGUMENT
// (no bundles, an empty or bad bundle, a malformed id), ALREADY_EXISTS (the
// name is taken in the namespace, or the id is known) or the store's error;
// Remove returns NOT_FOUND for an unknown group.
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "gcs/bundle_rpc.h"
#include "gcs/node_manager.h"
#include "gcs/resource_manager.h"
#include "gcs/store/store_client.h"

namespace lumen::gcs {

class PlacementGroupManager {
 public:
  // Collaborators are not owned and must outlive the manager.
  PlacementGroupManager(StoreClient& store, const Clock& clock, const NodeManager& nodes,
                        const ResourceManager& resources, BundleRpc& rpc);

  absl::Status Load();
  // Every second: schedules the next waiting group, if none is in flight.
  void Tick();
  void OnNodeChange(const rpc::NodeInfo& node);

  absl::Status Create(rpc::PlacementGroupInfo group);
  absl::Status Remove(const std::string& pg_id);
  const rpc::PlacementGroupInfo* Find(const std::string& pg_id) const;
  // A group not REMOVED named `name` in `ray_namespace`.
  const rpc::PlacementGroupInfo* FindByName(const std::string& ray_namespace,
                                            const std::string& name) const;
  std::vector<rpc::PlacementGroupInfo> List() const;

  // Called with the group's id when it is removed (its actors must die).
  void set_on_removed(std::function<void(const std::string&)> fn) { on_removed_ = std::move(fn); }

 private:
  // The attempt in flight: one group's bundles being prepared, then committed.
  struct Attempt {
    std::string pg_id;
    int64_t number = 0;
    std::vector<std::string> nodes;  // By bundle index (kept ones included).
    std::vector<int> indexes;        // The bundles this attempt places.
    int answers = 0;
    std::vector<bool> prepared;
    bool failed = false;
  };

  void ScheduleNext();
  void OnPrepared(int64_t number, int index, absl::Status status, bool prepared);
  void CommitAll();
  void OnCommitted(int64_t number, absl::Status status);
  void GiveUpAttempt(const std::string& why);
  // Cancels bundle `index` of `pg_id` on `node_id` (a no-op when the node is gone).
  void CancelBundle(const std::string& pg_id, int index, const std::string& node_id);
  void Persist(const rpc::PlacementGroupInfo& group);
  void Enqueue(const std::string& pg_id);

  StoreClient& store_;
  const Clock& clock_;
  const NodeManager& nodes_;
  const ResourceManager& resources_;
  BundleRpc& rpc_;
  absl::flat_hash_map<std::string, rpc::PlacementGroupInfo> groups_;  // By id (binary).
  std::deque<std::string> waiting_;  // PENDING / RESCHEDULING ids, in order.
  std::optional<Attempt> attempt_;
  int64_t next_attempt_ = 1;
  std::function<void(const std::string&)> on_removed_;
};

}  // namespace lumen::gcs
