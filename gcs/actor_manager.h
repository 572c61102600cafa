// gcs/actor_manager.h
//
// ActorManager runs every actor's life at the GCS (docs/gcs.md, "Actors"):
//
//   RegisterActor -> PENDING -> (place: pick a node) -> lease a worker from
//   its raylet -> push the creation task -> ALIVE
//   worker/node death, Kill(no_restart=false): restarts left ? RESTARTING ->
//   placed again : DEAD.   Factory threw, Kill(no_restart), owner exited,
//   lease refused: DEAD.
//
// Placement: the owner's node when its available resources fit the
// creation spec's required_resources, else the first alive node whose
// available resources fit, else the first whose total resources fit
// (scheduling strategies, docs/scheduling.md: NODE_AFFINITY's node comes
// first; SPREAD takes the fitting node hosting the fewest actors); none:
// the actor stays PENDING (logged once) and is tried again on Tick() and
// whenever a node registers. A lease that fails in transport puts the actor
// back in the queue, and the next request to that node repeats its
// request_id (the raylet answers a repeat with the grant it made). Replies that arrive for an attempt given up (killed,
// node died) are ignored; a stale granted lease is returned with
// worker_exiting so the raylet kills its worker.
//
// State lives in ActorDirectory (indexes, persistence, long polls); the
// outside is reached through ActorRpc. Costs: O(1) per RPC and per event
// (plus the actors concerned); Tick is O(actors waiting for a node).
// Threading: the GCS loop only. Failure: RPC-facing methods return
// INVALID_ARGUMENT (malformed ids or options), NOT_FOUND (unknown job or
// actor), FAILED_PRECONDITION (finished job), ALREADY_EXISTS (name taken),
// or the store's error (RegisterActor only).
#pragma once

#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/clock.h"
#include "gcs/actor_directory.h"
#include "gcs/actor_rpc.h"
#include "gcs/job_manager.h"
#include "gcs/node_manager.h"
#include "gcs/resource_manager.h"
#include "proto/gcs.pb.h"

namespace lumen::gcs {

inline constexpr size_t kDefaultMaxDeadActors = 1000;

// The node an actor needing `required` goes to (see the header comment);
// empty when none fits. `preferred`: the owner's node, may be empty.
std::string PickActorNode(const std::vector<rpc::ResourceView>& views,
                          const google::protobuf::Map<std::string, double>& required,
                          const std::string& preferred);

// SPREAD: among the nodes whose available resources fit `required`, the
// one hosting the fewest actors (`actors_on`), earliest in `views` on a tie;
// none fits: as PickActorNode without a preference.
std::string PickSpreadActorNode(const std::vector<rpc::ResourceView>& views,
                                const google::protobuf::Map<std::string, double>& required,
                                const std::function<size_t(const std::string&)>& actors_on);

class ActorManager {
 public:
  // Collaborators are not owned and must outlive the manager.
  ActorManager(StoreClient& store, const Clock& clock, const NodeManager& nodes,
               const ResourceManager& resources, const JobManager& jobs, ActorRpc& rpc,
               size_t max_dead_actors = kDefaultMaxDeadActors);

  // Reloads the ACTOR table (GCS start; no RPC is sent). ALIVE actors stay
  // alive; PENDING and RESTARTING ones are placed again on the first Tick,
  // which also returns the leases they held and applies node and owner
  // deaths that happened while the GCS was down.
  absl::Status Load();
  // Every second: places actors waiting for a node.
  void Tick();

  absl::Status Register(const rpc::ActorInfo& actor);
  // Kills the actor's worker; DEAD when `no_restart` or no restarts remain,
  // else RESTARTING. `cause` (may be empty) overrides "killed by ray::Kill".
  // A DEAD actor is left as it is.
  absl::Status Kill(const std::string& actor_id, bool no_restart, const std::string& cause);
  // A raylet saw the actor's worker die; reports of an older worker are
  // ignored.
  absl::Status OnWorkerFailure(const rpc::ReportWorkerFailureRequest& report);
  // The job's driver exited: its non-detached live actors die.
  void OnJobFinished(const std::string& job_id);
  // Node table listener: a dead node's actors restart or die; a new one
  // may fit waiting actors.
  void OnNodeChange(const rpc::NodeInfo& node);

  // GetActorInfo by id or by (namespace, name), answered at once or when
  // the actor's version passes `after_version` (see ActorDirectory::Poll).
  // Returns the waiter id to expire at the deadline, or 0 when answered.
  absl::StatusOr<int64_t> GetInfo(const rpc::GetActorInfoRequest& request,
                                  ActorDirectory::PollReply reply);
  void ExpirePoll(int64_t waiter_id) { directory_.Expire(waiter_id); }
  std::vector<rpc::ActorInfo> List();
  // Shutdown: answers every long poll.
  void Close() { directory_.Close(); }

  const rpc::ActorInfo* Find(const std::string& actor_id);
  size_t num_waiting_for_node() const { return queue_.size(); }

 private:
  void Place(ActorEntry& entry);
  void RequestLease(ActorEntry& entry, const rpc::NodeInfo& node);
  void OnLeaseReply(const std::string& actor_id, int64_t attempt, const rpc::NodeInfo& node,
                    absl::Status status, rpc::RequestWorkerLeaseReply reply);
  void PushCreation(ActorEntry& entry, const rpc::RequestWorkerLeaseReply& lease);
  void OnCreationReply(const std::string& actor_id, int64_t attempt, absl::Status status,
                       rpc::PushTasksReply reply);
  void BecomeAlive(ActorEntry& entry);
  // The actor's worker is gone (or being killed): restart if allowed, else die.
  void LoseWorker(ActorEntry& entry, const std::string& death_cause);
  void Die(ActorEntry& entry, rpc::ErrorInfo error, const std::string& death_cause);
  void DieOfActorDied(ActorEntry& entry, const std::string& death_cause);
  // Forgets the worker (or lease request) the actor had; with
  // `return_lease` the lease goes back to its raylet with worker_exiting.
  void ReleaseWorker(ActorEntry& entry, bool return_lease);
  void Enqueue(ActorEntry& entry);
  void RecoverAfterLoad();
  bool OwnerExited(const rpc::ActorInfo& info) const;
  std::string OwnerExitedCause(const rpc::ActorInfo& info) const;

  const Clock& clock_;
  const NodeManager& nodes_;
  const ResourceManager& resources_;
  const JobManager& jobs_;
  ActorRpc& rpc_;
  ActorDirectory directory_;
  std::deque<std::string> queue_;  // Actors waiting for a node, by id.
  bool recovered_ = true;          // False from Load until the first Tick.
  // Lease request ids; from the wall clock, so a restarted GCS never
  // repeats one of its predecessor's.
  int64_t next_request_id_;
};

}  // namespace lumen::gcs
