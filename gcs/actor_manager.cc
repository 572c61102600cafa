#include "gcs/actor_manager.h"

#include "common/id.h"
#include "common/logging.h"
#include "common/status.h"

namespace lumen::gcs {

using Phase = ActorEntry::Phase;

namespace {

bool Fits(const google::protobuf::Map<std::string, double>& have,
          const google::protobuf::Map<std::string, double>& required) {
  for (const auto& [name, amount] : required) {
    if (amount <= 0) continue;
    auto it = have.find(name);
    if (it == have.end() || it->second + 1e-9 < amount) return false;
  }
  return true;
}

absl::Status CheckId(const std::string& id, size_t size, const char* what) {
  if (id.size() == size) return absl::OkStatus();
  return absl::InvalidArgumentError("malformed " + std::string(what) + " (" +
                                    std::to_string(id.size()) + " bytes, expected " +
                                    std::to_string(size) + ")");
}

std::string WorkerDiedCause(int pid, const std::string& what) {
  return "the actor's worker process (pid " + std::to_string(pid) + ") died: " + what;
}

}  // namespace

std::string PickActorNode(const std::vector<rpc::ResourceView>& views,
                          const google::protobuf::Map<std::string, double>& required,
                          const std::string& preferred) {
  if (!preferred.empty()) {
    for (const auto& view : views) {
      if (view.node_id() == preferred && Fits(view.available(), required)) return preferred;
    }
  }
  for (const auto& view : views) {
    if (Fits(view.available(), required)) return view.node_id();
  }
  for (const auto& view : views) {
    if (Fits(view.total(), required)) return view.node_id();
  }
  return "";
}

std::string PickSpreadActorNode(const std::vector<rpc::ResourceView>& views,
                                const google::protobuf::Map<std::string, double>& required,
                                const std::function<size_t(const std::string&)>& actors_on) {
  std::string best;
  size_t fewest = 0;
  for (const auto& view : views) {
    if (!Fits(view.available(), required)) continue;
    const size_t actors = actors_on(view.node_id());
    if (best.empty() || actors < fewest) {
      best = view.node_id();
      fewest = actors;
    }
  }
  return best.empty() ? PickActorNode(views, required, "") : best;
}

ActorManager::ActorManager(StoreClient& store, const Clock& clock, const NodeManager& nodes,
                           const ResourceManager& resources, const JobManager& jobs,
                           ActorRpc& rpc, size_t max_dead_actors)
    : clock_(clock),
      nodes_(nodes),
      resources_(resources),
      jobs_(jobs),
      rpc_(rpc),
      directory_(store, max_dead_actors),
      next_request_id_(clock.WallMs() << 16) {}

absl::Status ActorManager::Load() {
  RETURN_IF_ERROR(directory_.Load());
  for (ActorEntry* entry : directory_.All()) {
    // A creation the previous GCS left running holds a lease: return it on recovery.
    if (entry->phase == Phase::kWaiting && entry->info.lease_id() != 0) {
      entry->phase = Phase::kCreating;
      directory_.SetNode(*entry, entry->info.address().node_id());
    }
  }
  recovered_ = false;
  return absl::OkStatus();
}

void ActorManager::RecoverAfterLoad() {
  recovered_ = true;
  std::vector<std::string> ids;
  for (ActorEntry* entry : directory_.All()) {
    if (entry->phase != Phase::kDead) ids.push_back(entry->info.actor_id());
  }
  for (const std::string& id : ids) {
    ActorEntry* entry = directory_.Find(id);
    if (entry == nullptr) continue;
    const bool node_alive = nodes_.IsAlive(entry->node_id);
    if (OwnerExited(entry->info)) {
      DieOfActorDied(*entry, OwnerExitedCause(entry->info));
    } else if (entry->phase == Phase::kAlive && !node_alive) {
      const rpc::NodeInfo* node = nodes_.Find(entry->node_id);
      std::string cause = "its node " + IdHex(entry->node_id) + " died";
      if (node != nullptr && !node->death_cause().empty()) cause += " (" + node->death_cause() + ")";
      ReleaseWorker(*entry, false);
      LoseWorker(*entry, cause);
    } else if (entry->phase != Phase::kAlive) {
      // Creation interrupted by the GCS restart: not the actor's fault, no restart counted.
      ReleaseWorker(*entry, node_alive);
      Enqueue(*entry);
    }
  }
}

void ActorManager::Tick() {
  if (!recovered_) RecoverAfterLoad();
  std::deque<std::string> queue;
  queue.swap(queue_);
  for (const std::string& id : queue) {
    ActorEntry* entry = directory_.Find(id);
    if (entry == nullptr || !entry->queued) continue;
    entry->queued = false;
    if (entry->phase == Phase::kWaiting) Place(*entry);
  }
}

absl::Status ActorManager::Register(const rpc::ActorInfo& actor) {
  RETURN_IF_ERROR(CheckId(actor.actor_id(), ActorId::kSize, "actor id"));
  RETURN_IF_ERROR(CheckId(actor.job_id(), JobId::kSize, "job id"));
  if (directory_.Find(actor.actor_id()) != nullptr) return absl::OkStatus();  // A retried call.
  const rpc::JobInfo* job = jobs_.Find(actor.job_id());
  const std::string job_name = std::to_string(JobId::FromBinaryOrNil(actor.job_id()).ToInt());
  if (job == nullptr) {
    return absl::NotFoundError("job " + job_name + " is not known to the GCS");
  }
  if (job->is_dead()) {
    return absl::FailedPreconditionError("job " + job_name +
                                         " has finished (its driver exited): it cannot create "
                                         "actors");
  }
  if (actor.max_restarts() < -1) {
    return absl::InvalidArgumentError("max_restarts must be -1 (no limit) or >= 0, not " +
                                      std::to_string(actor.max_restarts()));
  }
  if (actor.creation_spec().function_name().empty()) {
    return absl::InvalidArgumentError("the actor's creation_spec names no factory function");
  }
  rpc::ActorInfo info = actor;
  info.set_state(rpc::ActorInfo::PENDING);
  info.clear_address();
  info.clear_pid();
  info.clear_num_restarts();
  info.clear_death_cause();
  info.clear_death_error();
  info.clear_lease_id();
  info.clear_end_time_ms();
  info.set_start_time_ms(clock_.WallMs());
  if (info.ray_namespace().empty()) info.set_ray_namespace(job->namespace_());
  ASSIGN_OR_RETURN(ActorEntry * entry, directory_.Add(std::move(info)));
  VLOG(1) << "actor " << IdHex(entry->info.actor_id()) << " (" << entry->info.class_name()
          << ") registered";
  Place(*entry);
  return absl::OkStatus();
}

absl::Status ActorManager::Kill(const std::string& actor_id, bool no_restart,
                                const std::string& cause) {
  RETURN_IF_ERROR(CheckId(actor_id, ActorId::kSize, "actor id"));
  ActorEntry* entry = directory_.Find(actor_id);
  if (entry == nullptr) {
    return absl::NotFoundError("actor " + IdHex(actor_id) + " is not known to the GCS");
  }
  if (entry->phase == Phase::kDead) return absl::OkStatus();
  const std::string death_cause = cause.empty() ? "killed by ray::Kill" : cause;
  if (no_restart) {
    DieOfActorDied(*entry, death_cause);
  } else {
    ReleaseWorker(*entry, /*return_lease=*/true);
    LoseWorker(*entry, death_cause);
  }
  return absl::OkStatus();
}

absl::Status ActorManager::OnWorkerFailure(const rpc::ReportWorkerFailureRequest& report) {
  RETURN_IF_ERROR(CheckId(report.worker_id(), WorkerId::kSize, "worker id"));
  RETURN_IF_ERROR(CheckId(report.actor_id(), ActorId::kSize, "actor id"));
  ActorEntry* entry = directory_.Find(report.actor_id());
  const bool current = entry != nullptr &&
                       (entry->phase == Phase::kCreating || entry->phase == Phase::kAlive) &&
                       entry->info.address().worker_id() == report.worker_id();
  if (!current) {
    VLOG(1) << "ignoring the death of worker " << IdHex(report.worker_id()) << ": not actor "
            << IdHex(report.actor_id()) << "'s current worker";
    return absl::OkStatus();
  }
  const int pid = report.pid() != 0 ? report.pid() : entry->info.pid();
  const std::string cause =
      WorkerDiedCause(pid, report.cause().empty() ? "no cause reported" : report.cause());
  ReleaseWorker(*entry, /*return_lease=*/false);  // The raylet has it back already.
  entry->info.set_pid(pid);
  LoseWorker(*entry, cause);
  return absl::OkStatus();
}

void ActorManager::OnJobFinished(const std::string& job_id) {
  for (const std::string& id : directory_.ActorsOfJob(job_id)) {
    ActorEntry* entry = directory_.Find(id);
    if (entry == nullptr || entry->info.detached()) continue;
    DieOfActorDied(*entry, OwnerExitedCause(entry->info));
  }
}

void ActorManager::OnNodeChange(const rpc::NodeInfo& node) {
  if (node.state() == rpc::NodeInfo::ALIVE) {
    if (recovered_) Tick();  // A new node may fit actors waiting for one.
    return;
  }
  rpc_.ForgetNode(node.node_id());  // Drops its calls in flight: their actors move on below.
  std::string cause = "its node " + IdHex(node.node_id()) + " died";
  if (!node.death_cause().empty()) cause += " (" + node.death_cause() + ")";
  for (const std::string& id : directory_.ActorsOnNode(node.node_id())) {
    ActorEntry* entry = directory_.Find(id);
    if (entry == nullptr) continue;
    const bool had_worker = entry->phase != Phase::kLeasing;
    ReleaseWorker(*entry, /*return_lease=*/false);
    if (had_worker) {
      LoseWorker(*entry, cause);
    } else {
      Place(*entry);  // No worker yet: not a restart.
    }
  }
}

absl::StatusOr<int64_t> ActorManager::GetInfo(const rpc::GetActorInfoRequest& request,
                                              ActorDirectory::PollReply reply) {
  std::string id = request.actor_id();
  if (!id.empty()) {
    RETURN_IF_ERROR(CheckId(id, ActorId::kSize, "actor id"));
  } else if (!request.name().empty()) {
    ActorEntry* entry = directory_.FindByName(request.ray_namespace(), request.name());
    if (entry == nullptr) {
      reply(nullptr);
      return 0;
    }
    id = entry->info.actor_id();
  } else {
    return absl::InvalidArgumentError("GetActorInfo needs an actor_id or a name");
  }
  if (request.after_version() <= 0) {
    reply(Find(id));
    return 0;
  }
  return directory_.Poll(id, request.after_version(), std::move(reply));
}

std::vector<rpc::ActorInfo> ActorManager::List() {
  std::vector<rpc::ActorInfo> all;
  for (ActorEntry* entry : directory_.All()) all.push_back(entry->info);
  return all;
}

const rpc::ActorInfo* ActorManager::Find(const std::string& actor_id) {
  const ActorEntry* entry = directory_.Find(actor_id);
  return entry == nullptr ? nullptr : &entry->info;
}

void ActorManager::Place(ActorEntry& entry) {
  entry.phase = Phase::kWaiting;
  const rpc::ActorInfo& info = entry.info;
  std::string preferred = info.creation_spec().caller().node_id();
  const rpc::SchedulingStrategy& strategy = info.creation_spec().scheduling_strategy();
  if (strategy.kind() == rpc::SchedulingStrategy::NODE_AFFINITY) {
    preferred = strategy.node_id();  // Its raylet spills elsewhere only when soft.
  }
  if (preferred.empty()) {
    if (const rpc::JobInfo* job = jobs_.Find(info.job_id())) {
      preferred = job->driver_address().node_id();
    }
  }
  const auto& required = info.creation_spec().required_resources();
  std::string node_id =
      strategy.kind() == rpc::SchedulingStrategy::SPREAD
          ? PickSpreadActorNode(resources_.GetAll(), required,
                                [this](const std::string& node) {
                                  return directory_.ActorsOnNode(node).size();
                                })
          : PickActorNode(resources_.GetAll(), required, preferred);
  const rpc::NodeInfo* node = node_id.empty() ? nullptr : nodes_.Find(node_id);
  if (node == nullptr) {
    if (!entry.reported_unplaceable) {
      entry.reported_unplaceable = true;
      std::string needs;
      for (const auto& [name, amount] : required) {
        needs += (needs.empty() ? "" : ", ") + name + ": " + std::to_string(amount);
      }
      LOG(WARNING) << "actor " << IdHex(info.actor_id()) << " (" << info.class_name()
                   << ") needs {" << needs
                   << "}, which no alive node has in total; it stays pending until one joins";
    }
    Enqueue(entry);
    return;
  }
  RequestLease(entry, *node);
}

void ActorManager::RequestLease(ActorEntry& entry, const rpc::NodeInfo& node) {
  entry.phase = Phase::kLeasing;
  directory_.SetNode(entry, node.node_id());
  const rpc::ActorInfo& info = entry.info;
  rpc::RequestWorkerLeaseRequest request;
  request.set_job_id(info.job_id());
  *request.mutable_resources() = info.creation_spec().required_resources();
  request.set_function_name(info.class_name().empty() ? info.creation_spec().function_name()
                                                      : info.class_name());
  request.set_actor_id(info.actor_id());
  request.set_detached(info.detached());
  *request.mutable_scheduling_strategy() = info.creation_spec().scheduling_strategy();
  if (entry.request_id == 0 || entry.request_node != node.node_id()) {
    entry.request_id = ++next_request_id_;
    entry.request_node = node.node_id();
  }
  request.set_request_id(entry.request_id);
  if (const rpc::JobInfo* job = jobs_.Find(info.job_id())) *request.mutable_job() = *job;
  rpc_.RequestWorkerLease(
      node, request,
      [this, id = info.actor_id(), attempt = entry.attempt, node](
          absl::Status status, rpc::RequestWorkerLeaseReply reply) {
        OnLeaseReply(id, attempt, node, std::move(status), std::move(reply));
      });
}

void ActorManager::OnLeaseReply(const std::string& actor_id, int64_t attempt,
                                const rpc::NodeInfo& node, absl::Status status,
                                rpc::RequestWorkerLeaseReply reply) {
  ActorEntry* entry = directory_.Find(actor_id);
  if (entry == nullptr || entry->attempt != attempt || entry->phase != Phase::kLeasing) {
    // Given up meanwhile (killed, node died): the worker must not linger.
    if (status.ok() && !reply.rejected() && reply.lease_id() != 0) {
      rpc_.ReturnWorker(node, reply.lease_id(), /*worker_exiting=*/true);
    }
    return;
  }
  if (!status.ok()) {  // Keeps request_id: a repeat to this node gets any grant it made.
    LOG(WARNING) << "actor " << IdHex(actor_id) << ": no answer to its worker lease from node "
                 << IdHex(node.node_id()) << " (" << status << "); trying again";
    directory_.SetNode(*entry, "");
    Enqueue(*entry);
    return;
  }
  entry->request_id = 0;  // Answered.
  if (!reply.rejected() && reply.lease_id() == 0 && reply.retry_at_raylet().node_id().empty()) {
    LOG(WARNING) << "actor " << IdHex(actor_id) << ": node " << IdHex(node.node_id())
                 << " answered its lease request with no lease; trying again";
    directory_.SetNode(*entry, "");
    Enqueue(*entry);
    return;
  }
  if (reply.rejected()) {
    DieOfActorDied(*entry, "the raylet of node " + IdHex(node.node_id()) +
                               " refused a worker for the actor: " + reply.error());
    return;
  }
  if (reply.lease_id() == 0) {  // Spillback: ask the node the raylet named.
    const rpc::NodeInfo* next = nodes_.Find(reply.retry_at_raylet().node_id());
    if (next != nullptr && next->state() == rpc::NodeInfo::ALIVE) {
      RequestLease(*entry, *next);
    } else {
      directory_.SetNode(*entry, "");
      Enqueue(*entry);
    }
    return;
  }
  PushCreation(*entry, reply);
}

void ActorManager::PushCreation(ActorEntry& entry, const rpc::RequestWorkerLeaseReply& lease) {
  rpc::ActorInfo& info = entry.info;
  *info.mutable_address() = lease.worker_address();
  if (info.address().node_id().empty()) info.mutable_address()->set_node_id(entry.node_id);
  info.set_pid(lease.worker_pid());
  info.set_lease_id(lease.lease_id());
  entry.phase = Phase::kCreating;
  directory_.Commit(entry);  // Persisted: a restarted GCS returns this lease.
  rpc::TaskSpec spec = info.creation_spec();
  spec.set_actor_id(info.actor_id());
  spec.set_actor_creation(true);
  spec.set_num_restarts(info.num_restarts());
  spec.clear_gpu_ids();
  for (int32_t gpu : lease.gpu_ids()) spec.add_gpu_ids(gpu);
  rpc_.PushCreationTask(info.address(), spec,
                        [this, id = info.actor_id(), attempt = entry.attempt](
                            absl::Status status, rpc::PushTasksReply reply) {
                          OnCreationReply(id, attempt, std::move(status), std::move(reply));
                        });
}

void ActorManager::OnCreationReply(const std::string& actor_id, int64_t attempt,
                                   absl::Status status, rpc::PushTasksReply reply) {
  ActorEntry* entry = directory_.Find(actor_id);
  // Stale: whoever gave this attempt up dealt with its lease.
  if (entry == nullptr || entry->attempt != attempt || entry->phase != Phase::kCreating) return;
  if (!status.ok()) {
    std::string cause = WorkerDiedCause(entry->info.pid(),
                                        "the creation task's connection failed (" +
                                            std::string(status.message()) + ")");
    ReleaseWorker(*entry, true);
    LoseWorker(*entry, cause);
    return;
  }
  if (reply.replies_size() == 0) {
    DieOfActorDied(*entry, "the actor's worker answered its creation task with no result");
    return;
  }
  const rpc::ErrorInfo& error = reply.replies(0).error();
  if (error.type() == rpc::ErrorInfo::NONE) {
    entry->info.set_state(rpc::ActorInfo::ALIVE);
    entry->phase = Phase::kAlive;
    directory_.Commit(*entry);
    VLOG(1) << "actor " << IdHex(actor_id) << " alive (pid " << entry->info.pid() << ")";
    return;
  }
  const char* what = error.type() == rpc::ErrorInfo::TASK_EXCEPTION
                         ? "the actor's factory threw: "
                         : "the actor's factory could not run: ";
  Die(*entry, error, what + error.message());
}

void ActorManager::ReleaseWorker(ActorEntry& entry, bool return_lease) {
  rpc::ActorInfo& info = entry.info;
  const bool holds_lease = entry.phase == Phase::kCreating || entry.phase == Phase::kAlive;
  if (return_lease && holds_lease && info.lease_id() != 0) {
    const rpc::NodeInfo* node = nodes_.Find(entry.node_id);
    if (node != nullptr && node->state() == rpc::NodeInfo::ALIVE) {
      rpc_.ReturnWorker(*node, info.lease_id(), /*worker_exiting=*/true);
    }
  }
  ++entry.attempt;  // Replies still in flight are stale now.
  entry.request_id = 0;
  directory_.SetNode(entry, "");
  info.clear_address();
  info.clear_lease_id();
  if (entry.phase != Phase::kDead) entry.phase = Phase::kWaiting;
}

void ActorManager::LoseWorker(ActorEntry& entry, const std::string& death_cause) {
  rpc::ActorInfo& info = entry.info;
  if (OwnerExited(info)) {
    DieOfActorDied(entry, OwnerExitedCause(info));
    return;
  }
  if (info.max_restarts() != -1 && info.num_restarts() >= info.max_restarts()) {
    DieOfActorDied(entry, death_cause);
    return;
  }
  info.set_num_restarts(info.num_restarts() + 1);
  info.set_state(rpc::ActorInfo::RESTARTING);
  info.clear_pid();
  LOG(INFO) << "actor " << IdHex(info.actor_id()) << " restarting (" << info.num_restarts()
            << " of " << info.max_restarts() << "): " << death_cause;
  directory_.Commit(entry);
  Place(entry);
}

void ActorManager::DieOfActorDied(ActorEntry& entry, const std::string& death_cause) {
  rpc::ErrorInfo error;
  error.set_type(rpc::ErrorInfo::ACTOR_DIED);
  error.set_message(death_cause);
  error.set_pid(entry.info.pid());
  error.set_node_ip(entry.info.address().ip());
  Die(entry, std::move(error), death_cause);
}

void ActorManager::Die(ActorEntry& entry, rpc::ErrorInfo error, const std::string& death_cause) {
  ReleaseWorker(entry, /*return_lease=*/true);
  rpc::ActorInfo& info = entry.info;
  if (error.function_name().empty()) error.set_function_name(info.class_name());
  info.set_state(rpc::ActorInfo::DEAD);
  info.set_death_cause(death_cause);
  *info.mutable_death_error() = std::move(error);
  info.set_end_time_ms(clock_.WallMs());
  entry.phase = Phase::kDead;
  entry.queued = false;
  LOG(INFO) << "actor " << IdHex(info.actor_id()) << " (" << info.class_name()
            << ") dead: " << death_cause;
  directory_.Commit(entry);  // May drop the entry (dead-actor cap): do not touch it after.
}

void ActorManager::Enqueue(ActorEntry& entry) {
  entry.phase = Phase::kWaiting;
  if (entry.queued) return;
  entry.queued = true;
  queue_.push_back(entry.info.actor_id());
}

bool ActorManager::OwnerExited(const rpc::ActorInfo& info) const {
  if (info.detached()) return false;
  const rpc::JobInfo* job = jobs_.Find(info.job_id());
  return job != nullptr && job->is_dead();
}

std::string ActorManager::OwnerExitedCause(const rpc::ActorInfo& info) const {
  return "the actor's owner, the driver of job " + IdHex(info.job_id()) + ", exited";
}

}  // namespace lumen::gcs
