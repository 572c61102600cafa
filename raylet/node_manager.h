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
// loses all its workers (process group SIGKILL) and queued requests.
//
// Threading: the raylet loop only. Failure: bad requests come back as
// absl::Status (InvalidArgument, NotFound); nothing here is fatal.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "common/id.h"
#include "proto/raylet.pb.h"
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
  // `pool` and `leases` are not owned and must outlive the manager.
  NodeManager(NodeManagerConfig config, WorkerPool& pool, LeaseManager& leases);

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
  rpc::ResourceView View() const;

  void ReapWorkers();
  void CheckDrivers();
  void Maintain();
  // Kills every worker (raylet shutdown).
  void Shutdown();

 private:
  void FinishJob(const JobId& job, const std::string& reason);
  void FillGrant(const LeaseReply& lease, rpc::RequestWorkerLeaseReply* reply) const;

  NodeManagerConfig config_;
  WorkerPool& pool_;
  LeaseManager& leases_;
};

}  // namespace lumen::raylet
