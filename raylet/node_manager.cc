#include "raylet/node_manager.h"

#include <algorithm>

#include "common/logging.h"

namespace lumen::raylet {

NodeManager::NodeManager(NodeManagerConfig config, WorkerPool& pool, LeaseManager& leases,
                         GcsReporter& gcs)
    : config_(std::move(config)),
      pool_(pool),
      leases_(leases),
      gcs_(gcs),
      random_state_(std::hash<std::string>()(config_.node_id.Binary())) {
  pool_.set_on_worker_gone([this](const DeadWorker& dead) { OnWorkerGone(dead); });
}

NodeManager::~NodeManager() {
  pool_.set_on_worker_gone(nullptr);
  leases_.SetPlacer(nullptr);
}

void NodeManager::SetClusterView(ClusterView* view) {
  cluster_ = view;
  if (view == nullptr) {
    leases_.SetPlacer(nullptr);
    return;
  }
  leases_.SetPlacer([this](const LeaseRequest& request, const NodeView& local) {
    // Actor leases: the GCS chose this node; only affinity or infeasibility moves them.
    PlacementRequest wanted{request.resources, request.strategy,
                            request.grant_or_reject || !request.actor.IsNil()};
    NodeView here = local;
    here.node_id = config_.node_id.Binary();
    random_state_ += 0x9e3779b97f4a7c15ULL;  // splitmix64
    uint64_t random = random_state_;
    random = (random ^ (random >> 30)) * 0xbf58476d1ce4e5b9ULL;
    random = (random ^ (random >> 27)) * 0x94d049bb133111ebULL;
    Placement placement = PickPlacement(wanted, here, cluster_->Others(), random ^ (random >> 31));
    if (placement.kind == Placement::kSpill) cluster_->Reserve(placement.node_id, request.resources);
    return placement;
  });
}

void NodeManager::CheckRemoteJobs() {
  if (!job_fetcher_) return;
  for (auto it = remote_jobs_.begin(); it != remote_jobs_.end();) {
    if (!pool_.HasJob(*it) || finished_jobs_.contains(*it)) {
      remote_jobs_.erase(it++);
      continue;
    }
    job_fetcher_(*it, [this, job = *it](absl::StatusOr<rpc::JobInfo> info) {
      if (!info.ok() || !info->is_dead() || !remote_jobs_.contains(job)) return;
      remote_jobs_.erase(job);
      if (pool_.HasJob(job)) FinishJob(job, "its driver exited (on another node)");
    });
    ++it;
  }
}

void NodeManager::OnClusterView(bool changed) {
  // Every view, not only when nodes come and go: a placement group's
  // resources appear on a node that was already there.
  (void)changed;
  leases_.RetryInfeasible();
  leases_.SpillQueued();
}

void NodeManager::OnWorkerGone(const DeadWorker& dead) {
  if (dead.actor.IsNil()) return;
  LOG(INFO) << "worker " << dead.id.Hex() << " of actor " << dead.actor.Hex() << " is gone ("
            << dead.cause << "); telling the GCS";
  rpc::ReportWorkerFailureRequest report;
  report.set_worker_id(dead.id.Binary());
  report.set_node_id(config_.node_id.Binary());
  report.set_actor_id(dead.actor.Binary());
  report.set_pid(dead.pid);
  report.set_cause(dead.cause);
  gcs_.ReportWorkerFailure(report);
}

absl::Status NodeManager::RegisterWorker(const rpc::RegisterWorkerRequest& request,
                                         rpc::RegisterWorkerReply* reply) {
  auto worker_id = WorkerId::FromBinary(request.worker_id());
  if (!worker_id.ok())
    return absl::InvalidArgumentError("worker_id: " + worker_id.status().ToString());
  auto job_id = JobId::FromBinary(request.job_id());
  if (!job_id.ok()) return absl::InvalidArgumentError("job_id: " + job_id.status().ToString());
  if (request.is_driver()) {
    rpc::JobInfo job = request.job();
    job.set_job_id(job_id->Binary());
    if (job.driver_pid() == 0) job.set_driver_pid(request.pid());
    if (auto st = pool_.RegisterDriver(*worker_id, request.pid(), job, request.port()); !st.ok()) return st;
  } else {
    auto worker = pool_.RegisterWorker(*worker_id, *job_id, request.pid(), request.port());
    if (!worker.ok()) return worker.status();
    VLOG(1) << "worker " << worker_id->Hex() << " pid " << request.pid() << " registered on port "
            << request.port();
    leases_.Schedule();
  }
  reply->set_node_id(config_.node_id.Binary());
  reply->set_plasma_socket(config_.plasma_socket);
  reply->set_session_dir(config_.session_dir);
  reply->set_node_ip(config_.node_ip);
  reply->set_gcs_address(config_.gcs_address);
  return absl::OkStatus();
}

void NodeManager::RequestWorkerLease(
    const rpc::RequestWorkerLeaseRequest& request, std::function<bool()> is_cancelled,
    std::function<void(const rpc::RequestWorkerLeaseReply&)> reply) {
  if (FetchJobThenRequest(request, is_cancelled, reply)) return;
  ServeLease(request, std::move(is_cancelled), std::move(reply));
}

void NodeManager::ServeLease(const rpc::RequestWorkerLeaseRequest& request,
                             std::function<bool()> is_cancelled,
                             std::function<void(const rpc::RequestWorkerLeaseReply&)> reply) {
  auto answer = [this, reply = std::move(reply)](const LeaseReply& result) {
    rpc::RequestWorkerLeaseReply out;
    std::optional<rpc::Address> spill;
    if (!result.spill_node_id.empty() && cluster_ != nullptr) {
      spill = cluster_->RayletAddress(result.spill_node_id);
    }
    if (result.granted) {
      FillGrant(result, &out);
    } else if (spill) {
      *out.mutable_retry_at_raylet() = *spill;
    } else if (!result.spill_node_id.empty()) {
      out.set_rejected(true);
      out.set_error("the node chosen for this lease left the cluster; ask again");
    } else {
      out.set_rejected(true);
      out.set_error(result.error);
    }
    reply(out);
  };
  LeaseRequest lease;
  lease.job = JobId::FromBinaryOrNil(request.job_id());
  if (std::string error; !AdmitJob(request, lease.job, &error)) {
    LeaseReply rejected;
    rejected.error = std::move(error);
    answer(rejected);
    return;
  }
  lease.actor = ActorId::FromBinaryOrNil(request.actor_id());
  lease.detached = request.detached();
  lease.resources = ResourceSet::FromMap(request.resources());
  lease.function_name = request.function_name();
  lease.caller = WorkerId::FromBinaryOrNil(request.caller_worker_id());
  lease.request_id = request.request_id();
  lease.grant_or_reject = request.grant_or_reject();
  lease.strategy = request.scheduling_strategy();
  lease.is_cancelled = std::move(is_cancelled);
  lease.reply = std::move(answer);
  leases_.RequestLease(std::move(lease));
}

bool NodeManager::FetchJobThenRequest(
    const rpc::RequestWorkerLeaseRequest& request, std::function<bool()>& is_cancelled,
    std::function<void(const rpc::RequestWorkerLeaseReply&)>& reply) {
  if (!job_fetcher_ || request.has_job() || !request.actor_id().empty()) return false;
  auto job = JobId::FromBinary(request.job_id());
  if (!job.ok() || pool_.HasJob(*job) || finished_jobs_.contains(*job)) return false;
  VLOG(1) << "lease request for job " << job->Hex() << ", unknown here: asking the GCS";
  job_fetcher_(*job, [this, request, is_cancelled = std::move(is_cancelled),
                      reply = std::move(reply)](absl::StatusOr<rpc::JobInfo> info) mutable {
    rpc::RequestWorkerLeaseRequest again = request;
    if (info.ok() && info->is_dead()) {
      LOG(INFO) << "lease request for job " << JobId::FromBinaryOrNil(request.job_id()).Hex()
                << ", which has finished: refused";
    } else if (info.ok()) {
      remote_jobs_.insert(JobId::FromBinaryOrNil(request.job_id()));
      *again.mutable_job() = std::move(*info);
      again.mutable_job()->set_job_id(request.job_id());
    } else {
      LOG(WARNING) << "cannot learn job " << JobId::FromBinaryOrNil(request.job_id()).Hex()
                   << " from the GCS: " << info.status();
    }
    // With the job, or without (then refused as unknown, as before).
    ServeLease(again, std::move(is_cancelled), std::move(reply));
  });
  return true;
}

bool NodeManager::AdmitJob(const rpc::RequestWorkerLeaseRequest& request, const JobId& job,
                           std::string* error) {
  if (!request.actor_id().empty() && !ActorId::FromBinary(request.actor_id()).ok()) {
    *error = "actor_id is not a valid actor id (" + std::to_string(request.actor_id().size()) +
             " bytes)";
    return false;
  }
  if (finished_jobs_.contains(job) && !request.actor_id().empty() && !request.detached()) {
    // A late request of the GCS, sent before it heard of the job's end.
    *error = "job " + job.Hex() + " finished: its driver exited";
    return false;
  }
  if (!request.has_job() || pool_.HasJob(job)) return true;
  const rpc::JobInfo& info = request.job();
  if (!info.job_id().empty() && info.job_id() != request.job_id()) {
    *error = "the lease request's JobInfo names job " +
             JobId::FromBinaryOrNil(info.job_id()).Hex() + ", not job " + job.Hex();
    return false;
  }
  if (job.IsNil()) {
    *error = "a lease request with a JobInfo needs a valid job_id";
    return false;
  }
  pool_.AddJob(job, info);
  return true;
}

void NodeManager::FillGrant(const LeaseReply& lease, rpc::RequestWorkerLeaseReply* reply) const {
  rpc::Address* address = reply->mutable_worker_address();
  address->set_ip(config_.node_ip);
  address->set_port(lease.worker_port);
  address->set_node_id(config_.node_id.Binary());
  address->set_worker_id(lease.worker_id.Binary());
  reply->set_lease_id(lease.lease_id);
  reply->set_worker_pid(lease.worker_pid);
  for (int gpu : lease.gpu_ids) reply->add_gpu_ids(gpu);
}

void NodeManager::ReturnWorker(const rpc::ReturnWorkerRequest& request) {
  bool kill = request.worker_exiting() || request.disconnect_worker();
  absl::Status st = leases_.ReturnLease(request.lease_id(), kill);
  // A retried or late return (the worker died meanwhile) is harmless.
  if (!st.ok()) VLOG(1) << "ReturnWorker: " << st;
}

void NodeManager::DisconnectWorker(const WorkerId& worker) {
  if (auto job = pool_.JobOfDriver(worker)) {
    FinishJob(*job, "its driver disconnected");
    return;
  }
  if (pool_.Get(worker) == nullptr) return;
  pool_.KillWorker(worker, "disconnected");
  leases_.OnWorkerGone(worker);
}

void NodeManager::NotifyBlocked(const WorkerId& worker, bool blocked) {
  leases_.SetBlocked(worker, blocked);
}

void NodeManager::FinishJob(const JobId& job, const std::string& reason) {
  const absl::flat_hash_set<WorkerId> survivors = SurvivorsOf(job);
  LOG(INFO) << "job " << job.Hex() << " finished on this node: " << reason << "; "
            << survivors.size() << " workers of detached actors (and theirs) stay";
  // The GCS hears of the job's end before the deaths of its actors' workers
  // (GcsReporter holds those back), so it does not restart them.
  gcs_.MarkJobFinished(job);
  finished_jobs_.insert(job);
  leases_.RejectJobRequests(job, "job " + job.Hex() + " finished", [&](const LeaseRequest& r) {
    return r.detached || survivors.contains(r.caller);
  });
  const std::string why = "job " + job.Hex() + " finished: " + reason;
  for (const WorkerId& worker : pool_.FinishJob(job, survivors, why)) leases_.OnWorkerGone(worker);
}

absl::flat_hash_set<WorkerId> NodeManager::SurvivorsOf(const JobId& job) const {
  std::vector<WorkerId> todo = pool_.DetachedWorkers(job);
  absl::flat_hash_set<WorkerId> survivors;
  while (!todo.empty()) {
    WorkerId worker = todo.back();
    todo.pop_back();
    if (!survivors.insert(worker).second) continue;
    for (const WorkerId& leased : leases_.WorkersLeasedBy(worker)) todo.push_back(leased);
  }
  return survivors;
}

void NodeManager::ReapWorkers() {
  bool any = false;
  for (const DeadWorker& dead : pool_.ReapExited()) {
    leases_.OnWorkerGone(dead.id);
    any = true;
  }
  if (any) leases_.Schedule();
}

void NodeManager::CheckDrivers() {
  for (const JobId& job : pool_.FindJobsWithDeadDrivers()) FinishJob(job, "its driver exited");
}

void NodeManager::Maintain() {
  pool_.Maintain();
  for (const JobId& job : pool_.EmptyDriverlessJobs()) {
    if (!leases_.HasRequestsOf(job)) pool_.DropJob(job);
  }
  leases_.Schedule();
}

void NodeManager::Shutdown() { pool_.KillAll(); }

rpc::ResourceView NodeManager::View() const {
  rpc::ResourceView view;
  view.set_node_id(config_.node_id.Binary());
  const NodeResources& resources = leases_.resources();
  for (const auto& [name, amount] : resources.total().ToMap()) {
    (*view.mutable_total())[name] = amount;
    // Every resource appears, 0 when used up (or oversubscribed by unblocking).
    (*view.mutable_available())[name] = std::max(0.0, resources.available().Get(name));
  }
  view.set_num_pending_tasks(leases_.NumPending());
  for (auto& demand : leases_.PendingDemands()) *view.add_pending_demands() = std::move(demand);
  if (object_store_stats_) {
    rpc::GetNodeStatsReply store;
    object_store_stats_(&store);
    if (store.has_object_store()) {
      view.set_has_object_store(true);
      view.set_object_store_capacity(store.object_store_capacity());
      view.set_object_store_used(store.object_store_used());
      view.set_object_store_objects(store.object_store_objects());
      view.set_spilled_bytes(store.spilled_bytes());
      view.set_spilled_objects(store.spilled_objects());
    }
  }
  return view;
}

void NodeManager::GetNodeStats(rpc::GetNodeStatsReply* reply) const {
  *reply->mutable_view() = View();
  reply->set_num_workers(pool_.NumWorkers());
  reply->set_num_idle_workers(pool_.NumIdle());
  for (pid_t pid : pool_.Pids()) reply->add_worker_pids(pid);
  for (auto& worker : pool_.Stats()) *reply->add_workers() = std::move(worker);
  if (object_store_stats_) object_store_stats_(reply);
}

}  // namespace lumen::raylet
