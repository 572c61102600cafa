// raylet/lease_manager.h
//
// LeaseManager decides which lease request gets which worker. It owns the
// node's resource accounting (NodeResources), the queue of waiting requests
// and the granted leases; workers come from the WorkerPool.
//
// Policy, on every event (request, return, worker registered, unblock...):
//   1. Requests are grouped into scheduling classes (job + resource shape),
//      each a FIFO. Each grant goes to the class whose job holds the fewest
//      leases (ties: the class that has waited longest since its last
//      grant), if its shape fits the available resources and the job has an
//      idle worker; so jobs with pending demand share the node
//      (docs/raylet.md, "Fair sharing"). A class that cannot grant leaves the
//      pass (resources only shrink within it), so one pass costs
//      O((classes + grants) * classes), never O(queue^2).
//   2. For what is left, count per job how many more requests would fit the
//      remaining resources and ask the pool to have that many workers
//      starting (the pool caps concurrent starts for the node).
// Spillback (docs/scheduling.md): with a placer set (the NodeManager's,
// over the cluster view), each request is first placed: here, on another
// node (answered with LeaseReply::spill_node_id, not queued), or refused
// (a hard node affinity that cannot hold). The placer sees this node's free
// resources minus what its queued requests will take, so the node counts as
// busy once its queue covers it. RetryInfeasible() places the infeasible
// requests again when the cluster changes (a node joined).
// Requests that no node can run (no placer: whose shape exceeds this node's
// *total* resources) are infeasible: they stay pending (a warning is
// logged once per function), and count in num_pending_tasks, as in Ray.
// A worker blocked in Get gives its lease's CPU back (SetBlocked) so nested
// tasks can run; unblocking takes it back even if that oversubscribes.
// GPUs: a lease asking for "GPU" also gets GPU indices from a GpuIndexPool
// (see gpu_index_pool.h for the rule), reported in LeaseReply::gpu_ids and
// held until the lease ends (return, the worker's or its caller's death,
// the job's end); a blocked lease keeps them. A request fits only when both
// the counts and the index pool have room.
//
// Actor leases (asked by the GCS, with `actor` set and no caller): the
// worker is dedicated to the actor (WorkerPool::Dedicate): returning the
// lease always kills it, it is never revoked because of a caller's death,
// and it does not count as a lease of its job for fair sharing (actors
// usually hold no resources and live long). A zero-resource request still
// needs a worker: an idle one of the job, else one is started.
//
// Lost messages: a lease request carries a caller-chosen request_id; a
// repeat of a queued request takes over its reply, a repeat of a granted one
// gets the same grant again (keyed by caller, or by actor when there is no
// caller) (the caller retries when a reply was lost, and
// no worker is leased twice or leaked). Returning an unknown lease is
// NotFound, so returns may be repeated too.
// Threading: the raylet loop only. Reply callbacks run on the loop, possibly
// inline in RequestLease; each request gets exactly one reply.
#pragma once

#include <deque>
#include <functional>
#include <list>
#include <map>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "common/id.h"
#include "raylet/gpu_index_pool.h"
#include "proto/common.pb.h"
#include "raylet/resource_set.h"
#include "raylet/spillback_policy.h"
#include "raylet/worker_pool.h"

namespace lumen::raylet {

struct LeaseReply {
  bool granted = false;
  std::string error;  // Why not granted.
  int64_t lease_id = 0;
  WorkerId worker_id;
  int worker_port = 0;
  pid_t worker_pid = 0;
  std::vector<int> gpu_ids;  // The node's GPU indices for this lease.
  std::string spill_node_id;  // Not granted: ask that node's raylet instead.
};

struct LeaseRequest {
  JobId job;
  ResourceSet resources;
  std::string function_name;           // For the infeasible warning.
  WorkerId caller;                     // Nil when unknown.
  int64_t request_id = 0;              // With `caller` (or `actor`), names a repeat; 0: none.
  ActorId actor;                       // Non-nil: an actor lease (dedicated worker).
  bool detached = false;               // The actor outlives its job's driver.
  std::function<bool()> is_cancelled;  // Optional: the caller gave up.
  bool grant_or_reject = false;        // Spilled here: never spilled again.
  rpc::SchedulingStrategy strategy;
  std::function<void(const LeaseReply&)> reply;
};

class LeaseManager {
 public:
  // `pool` is not owned and must outlive the manager.
  LeaseManager(WorkerPool& pool, ResourceSet total);

  // Grants now (replying inline), queues, or rejects a request of a job the
  // pool does not know.
  void RequestLease(LeaseRequest request);
  // Releases the lease's resources; the worker goes back to idle, or is
  // killed when `kill_worker` or the lease is an actor's. NotFound for
  // unknown leases.
  absl::Status ReturnLease(int64_t lease_id, bool kill_worker);
  void SetBlocked(const WorkerId& worker, bool blocked);
  // `worker`'s process is gone: its lease is released, leases it held as a
  // caller are revoked (their workers killed), its queued requests dropped.
  void OnWorkerGone(const WorkerId& worker);
  // Rejects every queued request of `job` with `error`, except those `keep`
  // (optional) holds on to.
  void RejectJobRequests(const JobId& job, const std::string& error,
                         const std::function<bool(const LeaseRequest&)>& keep = nullptr);
  // The workers holding leases that `caller` asked for.
  std::vector<WorkerId> WorkersLeasedBy(const WorkerId& caller) const;
  // Whether requests of `job` wait here (queued or infeasible).
  bool HasRequestsOf(const JobId& job) const;
  // Grants what it can and asks the pool for workers for the rest.
  void Schedule();

  // Where a request goes, given this node's free resources after its queue
  // (`local`, node_id empty); runs on every request and retry.
  using Placer = std::function<Placement(const LeaseRequest&, const NodeView& local)>;
  void SetPlacer(Placer placer) { placer_ = std::move(placer); }
  // Places the infeasible requests again (the cluster changed).
  void RetryInfeasible();
  // Places again the queued requests this node will not serve soon (those
  // its free resources do not cover, in queue order), except spilled and
  // actor ones: a node that has room now takes them (a fresh cluster view).
  void SpillQueued();

  // Placement group bundles (raylet/bundle_book.h). TakeResources reserves
  // `shape` out of the available resources if it fits now (false if not);
  // GiveResources returns it. AddCapacity / RemoveCapacity add or take away
  // resources of the node (a committed bundle's group resources); before
  // RemoveCapacity, KillLeasesUsing kills the workers whose lease holds any
  // resource named in `names` (their leases end).
  // A shape with GPUs also reserves GPU indices of the node (`gpu_ids`,
  // when not null; GiveResources returns them).
  bool TakeResources(const ResourceSet& shape, std::vector<int>* gpu_ids = nullptr);
  void GiveResources(const ResourceSet& shape, const std::vector<int>& gpu_ids = {});
  // A committed bundle's GPU indices (those TakeResources reserved for it),
  // shared out to the leases that run in it: a lease asking for
  // GPU_group_<index>_<pg> units gets indices of that bundle, one asking
  // only for GPU_group_<pg> those of the first bundle of the group here
  // with room; by GpuIndexPool's rule within the bundle's indices, so that
  // its worker sets CUDA_VISIBLE_DEVICES to them. Remove after the leases
  // using the bundle are gone (KillLeasesUsing).
  void AddBundleGpus(const std::string& pg_hex, int index, std::vector<int> gpu_ids);
  void RemoveBundleGpus(const std::string& pg_hex, int index);
  void AddCapacity(const ResourceSet& extra);
  void RemoveCapacity(const ResourceSet& gone);
  void KillLeasesUsing(const ResourceSet& names, const std::string& reason);

  const NodeResources& resources() const { return resources_; }
  const GpuIndexPool& gpus() const { return gpus_; }
  int NumPending() const { return num_queued_ + static_cast<int>(infeasible_.size()); }
  // The queued and infeasible requests by resource shape (`lumen status`).
  std::vector<rpc::ResourceDemand> PendingDemands() const;
  int NumLeases() const { return static_cast<int>(leases_.size()); }

 private:
  struct SchedulingClass {
    JobId job;
    ResourceSet resources;
    std::string key;
    std::deque<LeaseRequest> queue;
  };
  struct Lease {
    WorkerId worker;
    JobId job;
    ResourceSet resources;
    WorkerId caller;
    ActorId actor;
    std::vector<int> gpu_ids;
    // Its GPUs come from this bundle (empty pg: the node's own pool), as
    // these indices of the bundle's pool, for that many units.
    std::pair<std::string, int> gpu_bundle;
    std::vector<int> bundle_gpu_ids;
    int64_t bundle_gpu_units = 0;
    bool blocked = false;  // Its CPU is given back while blocked.
    LeaseReply grant;      // As sent, for a repeated request.
    int64_t request_id = 0;
  };
  // (caller's or else actor's id, request_id).
  using RequestKey = std::pair<std::string, int64_t>;
  static std::string KeyOwner(const WorkerId& caller, const ActorId& actor) {
    return caller.IsNil() ? actor.Binary() : caller.Binary();
  }
  // The reply of a queued request that has a key; a repeat replaces it.
  struct ReplySlot {
    std::function<void(const LeaseReply&)> reply;
  };

  struct BundleGpus {
    std::vector<int> node_ids;  // The node's indices; the pool's are 0..n-1.
    GpuIndexPool pool;
  };
  using BundleKey = std::pair<std::string, int>;
  // The bundle whose GPUs a lease of `shape` takes, and how many units;
  // nullptr when it asks for no bundle's GPU (or no bundle here has room).
  const BundleGpus* BundleGpusFor(const ResourceSet& shape, BundleKey* key, int64_t* units) const;
  // Counts and GPU indices both have room for `shape` now / ever.
  bool FitsNow(const ResourceSet& shape) const;
  // Answers a request that goes elsewhere (spilled or refused); false when
  // it stays here.
  bool PlaceElsewhere(LeaseRequest& request);
  void Dequeued(const ResourceSet& shape, int count = 1);
  bool IsFeasible(const ResourceSet& shape) const;
  void Enqueue(LeaseRequest request);
  // A repeat of a request with a key is answered here (true); else the
  // request's reply is wrapped to track its key.
  bool AnswerRepeat(LeaseRequest& request);
  // Grants the front request of `cls` (dropping cancelled ones first);
  // false when nothing could be granted.
  bool GrantOne(SchedulingClass& cls);
  int LeasesOf(const JobId& job) const {
    auto it = leases_per_job_.find(job);
    return it == leases_per_job_.end() ? 0 : it->second;
  }
  void Grant(LeaseRequest& request, const WorkerInfo& worker);
  void StartWorkersForDemand();
  void ReleaseLease(int64_t lease_id);
  void RevokeLeasesOf(const WorkerId& worker, std::vector<WorkerId>* killed);
  void DropRequestsOf(const WorkerId& caller);
  void WarnInfeasible(const LeaseRequest& request);
  static void Reject(LeaseRequest& request, const std::string& error);

  WorkerPool& pool_;
  NodeResources resources_;
  GpuIndexPool gpus_;
  std::map<BundleKey, BundleGpus> bundle_gpus_;
  std::list<SchedulingClass> classes_;  // Arrival order.
  absl::flat_hash_map<std::string, std::list<SchedulingClass>::iterator> class_by_key_;
  int num_queued_ = 0;
  ResourceSet queued_demand_;  // The shapes of every queued request, summed.
  Placer placer_;
  std::vector<LeaseRequest> infeasible_;
  absl::flat_hash_set<std::string> warned_infeasible_;
  absl::flat_hash_map<int64_t, Lease> leases_;
  absl::flat_hash_map<WorkerId, int64_t> lease_by_worker_;
  absl::flat_hash_map<JobId, int> leases_per_job_;  // Granted leases held per job.
  absl::flat_hash_map<RequestKey, std::shared_ptr<ReplySlot>> waiting_requests_;
  absl::flat_hash_map<RequestKey, int64_t> granted_requests_;  // To the lease id.
  int64_t next_lease_id_ = 1;
  bool scheduling_ = false;
};

}  // namespace lumen::raylet
