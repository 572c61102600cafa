// raylet/node_manager.h
//
// NodeManager is the raylet's brain behind the RayletService RPCs: it turns
// worker registrations, lease requests, returns, blocked notifications and
// process deaths into calls on the WorkerPool and the LeaseManager, in plain
// C++ (the gRPC adapter is raylet_service.h), so it is unit-tested with a
// fake process launcher and a fake clock.
//
// Events it reacts to besides RPCs, driven by the daemon's timers:
//   ReapWorkers()   a child exited (SIGCHLD, or polled): release its lease;
//   CheckDrivers()  a driver process vanished: its job is finished here;
//   Maintain()      idle/unregistered workers expire, prestart top-up.
// A finished job (DisconnectWorker of its driver, or the driver's death)
// loses its workers (process group SIGKILL) and queued requests, except
// workers dedicated to detached actors, the workers those lease (and so on
// down), and their requests; the GCS is told (MarkJobFinished).
//
// Actors (docs/raylet.md, "Actor leases"): a lease request with actor_id
// (from the GCS) gets a worker dedicated to the actor; a request carrying a
// JobInfo for a job without a driver here makes the job known from it.
// Every death of an actor's worker (exit, or a kill by this raylet) is
// reported to the GCS with its cause (GcsReporter).
//
// Spillback (docs/scheduling.md): with a ClusterView set, lease requests are
// placed by PickPlacement (spillback_policy.h) and a request for another
// node is answered with retry_at_raylet. Actor leases come from the GCS,
// which chose the node: they stay here when this node can ever run them.
// A request for a job this node has never seen (spilled here by another
// raylet) waits while the job's JobInfo is fetched from the GCS (the
// JobFetcher), so workers of the job can start here.
//
// Threading: the raylet loop only. Failure: bad requests come back as
// absl::Status (InvalidArgument, NotFound); nothing here is fatal.
#pragma once

#include <functional>
#include <string>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/id.h"
#include "proto/raylet.pb.h"
#include "raylet/cluster_view.h"
#include "raylet/gcs_reporter.h"
#include "raylet/bundle_book.h"
#include "raylet/lease_manager.h"
#include "raylet/worker_pool.h"

namespace lumen::raylet {

struct NodeManagerConfig {
  NodeId node_id;
  std::string node_ip;
  std::string plasma_socket;
  std::string session_dir;
  std::string gcs_address;
};

class NodeManager {
 public:
  // `pool`, `leases` and `gcs` are not owned and must outlive the manager.
  NodeManager(NodeManagerConfig config, WorkerPool& pool, LeaseManager& leases, GcsReporter& gcs);
  ~NodeManager();

  absl::Status RegisterWorker(const rpc::RegisterWorkerRequest& request,
                              rpc::RegisterWorkerReply* reply);
  // `is_cancelled` may be empty; `reply` runs exactly once, maybe inline.
  void RequestWorkerLease(const rpc::RequestWorkerLeaseRequest& request,
                          std::function<bool()> is_cancelled,
                          std::function<void(const rpc::RequestWorkerLeaseReply&)> reply);
  void ReturnWorker(const rpc::ReturnWorkerRequest& request);
  void DisconnectWorker(const WorkerId& worker);
  void NotifyBlocked(const WorkerId& worker, bool blocked);
  void GetNodeStats(rpc::GetNodeStatsReply* reply) const;
  // Fills the object store fields of GetNodeStats (the ObjectManager).
  void SetObjectStoreStats(std::function<void(rpc::GetNodeStatsReply*)> fill) { object_store_stats_ = std::move(fill); }
  rpc::ResourceView View() const;
  // Placement group bundles reserved here (RayletService's bundle calls).
  BundleBook& bundles() { return bundles_; }

  // Turns spillback on (`view` not owned, must outlive the manager).
  void SetClusterView(ClusterView* view);
  // A fresh cluster view: queued requests this node will not serve soon
  // are placed again, and when the set of nodes `changed`, the infeasible
  // ones too.
  void OnClusterView(bool changed);
  // Fetches a job's JobInfo (from the GCS); `done` runs on the loop.
  using JobFetcher =
      std::function<void(const JobId&, std::function<void(absl::StatusOr<rpc::JobInfo>)>)>;
  void SetJobFetcher(JobFetcher fetcher) { job_fetcher_ = std::move(fetcher); }
  // Jobs learnt from the GCS (their driver is on another node) whose driver
  // has exited are finished here too: their workers go, leased or not.
  void CheckRemoteJobs();

  void ReapWorkers();
  void CheckDrivers();
  void Maintain();
  // Kills every worker (raylet shutdown).
  void Shutdown();

 private:
  void FinishJob(const JobId& job, const std::string& reason);
  // The workers a finished job keeps: detached actors' and what they lease.
  absl::flat_hash_set<WorkerId> SurvivorsOf(const JobId& job) const;
  // Makes a job named by an actor lease known; false (and `error`) if the
  // request cannot be served.
  bool AdmitJob(const rpc::RequestWorkerLeaseRequest& request, const JobId& job,
                std::string* error);
  void OnWorkerGone(const DeadWorker& dead);
  void FillGrant(const LeaseReply& lease, rpc::RequestWorkerLeaseReply* reply) const;
  void ServeLease(const rpc::RequestWorkerLeaseRequest& request,
                  std::function<bool()> is_cancelled,
                  std::function<void(const rpc::RequestWorkerLeaseReply&)> reply);
  // Fetches the unknown job of `request` and then serves it; false when no
  // fetch is needed (or possible).
  bool FetchJobThenRequest(const rpc::RequestWorkerLeaseRequest& request,
                           std::function<bool()>& is_cancelled,
                           std::function<void(const rpc::RequestWorkerLeaseReply&)>& reply);

  NodeManagerConfig config_;
  WorkerPool& pool_;
  LeaseManager& leases_;
  BundleBook bundles_{leases_};
  GcsReporter& gcs_;
  // Jobs whose driver exited here (4 bytes each): a late actor lease of one
  // must not start its workers again.
  absl::flat_hash_set<JobId> finished_jobs_;
  std::function<void(rpc::GetNodeStatsReply*)> object_store_stats_;
  ClusterView* cluster_ = nullptr;
  JobFetcher job_fetcher_;
  absl::flat_hash_set<JobId> remote_jobs_;  // Learnt through job_fetcher_.
  uint64_t random_state_;  // For PickPlacement (splitmix64).
};

}  // namespace lumen::raylet
