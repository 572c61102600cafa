#include "raylet/lease_manager.h"

#include <algorithm>
#include <map>
#include <optional>

#include "common/logging.h"

namespace lumen::raylet {

LeaseManager::LeaseManager(WorkerPool& pool, ResourceSet total)
    : pool_(pool), resources_(total), gpus_(GpuIndexPool::ForTotal(total)) {}

const LeaseManager::BundleGpus* LeaseManager::BundleGpusFor(const ResourceSet& shape,
                                                            BundleKey* key, int64_t* units) const {
  if (bundle_gpus_.empty()) return nullptr;  // The common case: no walk over the shape.
  static const std::string kPrefix = std::string(kGpuResource) + "_group_";
  const BundleGpus* wildcard = nullptr;
  for (const auto& [name, amount] : shape.ToMap()) {
    if (amount <= 0 || !name.starts_with(kPrefix)) continue;
    const std::string rest = name.substr(kPrefix.size());
    const int64_t want = shape.GetUnits(name);
    const size_t underscore = rest.find('_');
    if (underscore != std::string::npos) {  // GPU_group_<index>_<pg>: that bundle.
      BundleKey k{rest.substr(underscore + 1), std::atoi(rest.substr(0, underscore).c_str())};
      auto it = bundle_gpus_.find(k);
      if (it == bundle_gpus_.end()) return nullptr;
      *key = k;
      *units = want;
      return &it->second;
    }
    // GPU_group_<pg>: the first bundle of the group here with room.
    for (auto it = bundle_gpus_.lower_bound(BundleKey{rest, -1});
         wildcard == nullptr && it != bundle_gpus_.end() && it->first.first == rest; ++it) {
      if (!it->second.pool.CanAllocate(want)) continue;
      *key = it->first;
      *units = want;
      wildcard = &it->second;
    }
  }
  return wildcard;
}

bool LeaseManager::FitsNow(const ResourceSet& shape) const {
  BundleKey key;
  int64_t units = 0;
  const BundleGpus* bundle = BundleGpusFor(shape, &key, &units);
  if (bundle != nullptr && !bundle->pool.CanAllocate(units)) return false;
  return resources_.Fits(shape) && gpus_.CanAllocate(shape.GetUnits(kGpuResource));
}

std::vector<rpc::ResourceDemand> LeaseManager::PendingDemands() const {
  std::map<std::pair<std::string, bool>, rpc::ResourceDemand> by_shape;
  auto add = [&by_shape](const ResourceSet& shape, int count, bool infeasible) {
    if (count == 0) return;
    rpc::ResourceDemand& demand = by_shape[{shape.DebugString(), infeasible}];
    if (demand.count() == 0) {
      for (const auto& [name, amount] : shape.ToMap()) (*demand.mutable_shape())[name] = amount;
      demand.set_infeasible(infeasible);
    }
    demand.set_count(demand.count() + count);
  };
  for (const SchedulingClass& cls : classes_) add(cls.resources, static_cast<int>(cls.queue.size()), false);
  for (const LeaseRequest& request : infeasible_) add(request.resources, 1, true);
  std::vector<rpc::ResourceDemand> out;
  for (auto& [key, demand] : by_shape) out.push_back(std::move(demand));
  return out;
}

bool LeaseManager::IsFeasible(const ResourceSet& shape) const {
  return resources_.IsFeasible(shape) && gpus_.IsFeasible(shape.GetUnits(kGpuResource));
}

void LeaseManager::RequestLease(LeaseRequest request) {
  if (!pool_.HasJob(request.job)) {
    Reject(request,
           "job " + request.job.Hex() +
               " is not known to this raylet (its driver has not registered or has exited)");
    return;
  }
  if (AnswerRepeat(request)) return;
  if (PlaceElsewhere(request)) return;
  if (!IsFeasible(request.resources)) {
    WarnInfeasible(request);
    infeasible_.push_back(std::move(request));
    return;
  }
  Enqueue(std::move(request));
  Schedule();
}

bool LeaseManager::PlaceElsewhere(LeaseRequest& request) {
  if (!placer_) return false;
  NodeView local{"", resources_.total(), resources_.available()};
  local.available.Subtract(queued_demand_);
  Placement placement = placer_(request, local);
  if (placement.kind == Placement::kReject) {
    Reject(request, placement.error);
    return true;
  }
  if (placement.kind != Placement::kSpill) return false;
  LeaseReply reply;
  reply.spill_node_id = placement.node_id;
  request.reply(reply);
  return true;
}

void LeaseManager::RetryInfeasible() {
  if (!placer_ || infeasible_.empty()) return;
  std::vector<LeaseRequest> waiting;
  waiting.swap(infeasible_);
  for (LeaseRequest& request : waiting) {
    if (request.is_cancelled && request.is_cancelled()) {
      Reject(request, "lease request cancelled by the caller");
    } else if (!PlaceElsewhere(request)) {
      infeasible_.push_back(std::move(request));
    }
  }
}

void LeaseManager::SpillQueued() {
  if (!placer_ || num_queued_ == 0) return;
  ResourceSet free = resources_.available();
  for (SchedulingClass& cls : classes_) {
    for (auto it = cls.queue.begin(); it != cls.queue.end();) {
      if (cls.resources.IsSubsetOf(free)) {  // Served here soon.
        free.Subtract(cls.resources);
        ++it;
        continue;
      }
      if (it->grant_or_reject || !it->actor.IsNil()) {
        ++it;
        continue;
      }
      Placement placement = placer_(*it, NodeView{"", resources_.total(), free});
      if (placement.kind != Placement::kSpill) {
        ++it;
        continue;
      }
      LeaseReply reply;
      reply.spill_node_id = placement.node_id;
      LeaseRequest request = std::move(*it);
      it = cls.queue.erase(it);
      Dequeued(cls.resources);
      request.reply(reply);
    }
  }
}

void LeaseManager::Dequeued(const ResourceSet& shape, int count) {
  num_queued_ -= count;
  for (int i = 0; i < count; ++i) queued_demand_.Subtract(shape);
}

bool LeaseManager::AnswerRepeat(LeaseRequest& request) {
  if (request.request_id == 0 || (request.caller.IsNil() && request.actor.IsNil())) return false;
  const RequestKey key{KeyOwner(request.caller, request.actor), request.request_id};
  if (auto it = granted_requests_.find(key); it != granted_requests_.end()) {
    auto lease = leases_.find(it->second);
    if (lease != leases_.end()) {
      request.reply(lease->second.grant);
      return true;
    }
    granted_requests_.erase(it);
  }
  if (auto it = waiting_requests_.find(key); it != waiting_requests_.end()) {
    // Still queued: its grant goes to this call; the earlier call (whose
    // caller gave up on it) is told so.
    std::shared_ptr<ReplySlot> slot = it->second;
    auto earlier = std::move(slot->reply);
    slot->reply = std::move(request.reply);
    LeaseReply superseded;
    superseded.error = "superseded by a repeat of the same lease request";
    if (earlier) earlier(superseded);
    return true;
  }
  auto slot = std::make_shared<ReplySlot>(ReplySlot{std::move(request.reply)});
  waiting_requests_[key] = slot;
  request.reply = [this, key, slot](const LeaseReply& reply) {
    waiting_requests_.erase(key);
    if (reply.granted) {
      if (auto lease = leases_.find(reply.lease_id); lease != leases_.end()) {
        lease->second.request_id = key.second;
        granted_requests_[key] = reply.lease_id;
      }
    }
    slot->reply(reply);
  };
  return false;
}

void LeaseManager::Enqueue(LeaseRequest request) {
  std::string key = request.job.Binary() + request.resources.DebugString();
  auto it = class_by_key_.find(key);
  if (it == class_by_key_.end()) {
    classes_.push_back(SchedulingClass{request.job, request.resources, key, {}});
    it = class_by_key_.emplace(key, std::prev(classes_.end())).first;
  }
  queued_demand_.Add(request.resources);
  it->second->queue.push_back(std::move(request));
  ++num_queued_;
}

void LeaseManager::WarnInfeasible(const LeaseRequest& request) {
  std::string key = request.function_name + request.resources.DebugString();
  if (!warned_infeasible_.insert(key).second) return;
  LOG(WARNING) << "infeasible lease request: "
               << (request.function_name.empty() ? "a task" : request.function_name) << " needs "
               << request.resources.DebugString() << " but this node has "
               << resources_.total().DebugString()
               << " in total; it stays pending until a node that can run it joins";
}

void LeaseManager::Schedule() {
  if (scheduling_) return;  // Reached again from a reply callback.
  scheduling_ = true;
  // Fair share: each grant goes to the class whose job holds the fewest
  // leases now; ties go to the class nearest the front, and a class that
  // grants moves to the back (round-robin among equals). Within one pass
  // resources and idle workers only shrink, so a class that cannot grant
  // now leaves the pass: O((classes + grants) * classes) per pass, with
  // classes the handful of (job, shape) pairs that have requests queued.
  std::vector<std::list<SchedulingClass>::iterator> active;
  active.reserve(classes_.size());
  for (auto it = classes_.begin(); it != classes_.end(); ++it) active.push_back(it);
  while (!active.empty()) {
    size_t best = 0;
    for (size_t i = 1; i < active.size(); ++i) {
      if (LeasesOf(active[i]->job) < LeasesOf(active[best]->job)) best = i;
    }
    auto it = active[best];
    if (GrantOne(*it)) {
      active.erase(active.begin() + best);
      classes_.splice(classes_.end(), classes_, it);
      active.push_back(it);  // The back of the list, as in classes_.
    } else {
      active.erase(active.begin() + best);
    }
  }
  StartWorkersForDemand();
  for (auto it = classes_.begin(); it != classes_.end();) {
    if (!it->queue.empty()) {
      ++it;
      continue;
    }
    class_by_key_.erase(it->key);
    it = classes_.erase(it);
  }
  scheduling_ = false;
}

bool LeaseManager::GrantOne(SchedulingClass& cls) {
  while (!cls.queue.empty()) {
    LeaseRequest& front = cls.queue.front();
    const bool cancelled = front.is_cancelled && front.is_cancelled();
    if (cancelled) {
      Reject(front, "lease request cancelled by the caller");
    } else {
      if (!FitsNow(cls.resources)) return false;
      const WorkerInfo* worker = pool_.PopIdle(cls.job);
      if (worker == nullptr) return false;
      Grant(front, *worker);
    }
    cls.queue.pop_front();
    Dequeued(cls.resources);
    if (!cancelled) return true;
  }
  return false;
}

void LeaseManager::Grant(LeaseRequest& request, const WorkerInfo& worker) {
  int64_t lease_id = next_lease_id_++;
  resources_.Acquire(request.resources);
  std::optional<std::vector<int>> gpu_ids =
      gpus_.Allocate(request.resources.GetUnits(kGpuResource));
  CHECK(gpu_ids.has_value()) << "granted a lease whose GPU indices are taken";
  leases_[lease_id] =
      Lease{worker.id, request.job, request.resources, request.caller, request.actor, *gpu_ids};
  BundleKey bundle_key;
  int64_t bundle_units = 0;
  if (BundleGpusFor(request.resources, &bundle_key, &bundle_units) != nullptr) {
    BundleGpus& bundle = bundle_gpus_.at(bundle_key);
    std::optional<std::vector<int>> local = bundle.pool.Allocate(bundle_units);
    CHECK(local.has_value()) << "granted a lease whose bundle GPU indices are taken";
    Lease& lease = leases_[lease_id];
    lease.gpu_bundle = bundle_key;
    lease.bundle_gpu_ids = *local;
    lease.bundle_gpu_units = bundle_units;
    for (int i : *local) gpu_ids->push_back(bundle.node_ids.at(i));
    lease.gpu_ids = *gpu_ids;
  }
  if (request.actor.IsNil()) {
    ++leases_per_job_[request.job];
  } else {
    pool_.Dedicate(worker.id, request.actor, request.detached);
  }
  lease_by_worker_[worker.id] = lease_id;
  LeaseReply reply;
  reply.granted = true;
  reply.lease_id = lease_id;
  reply.worker_id = worker.id;
  reply.worker_port = worker.port;
  reply.worker_pid = worker.pid;
  reply.gpu_ids = std::move(*gpu_ids);
  leases_[lease_id].grant = reply;
  request.reply(reply);
}

void LeaseManager::StartWorkersForDemand() {
  ResourceSet remaining = resources_.available();
  // A copy to play with: N ints.
  GpuIndexPool remaining_gpus = gpus_;
  std::vector<std::pair<JobId, int>> demand;  // Few jobs: a vector is fine.
  int cap = pool_.options().max_starting_workers;
  for (const SchedulingClass& cls : classes_) {
    int limit = std::min<int>(static_cast<int>(cls.queue.size()), cap);
    int fitting = 0;
    int64_t gpu_units = cls.resources.GetUnits(kGpuResource);
    while (fitting < limit && cls.resources.IsSubsetOf(remaining) &&
           remaining_gpus.Allocate(gpu_units).has_value()) {
      remaining.Subtract(cls.resources);
      ++fitting;
    }
    if (fitting == 0) continue;
    auto it = std::find_if(demand.begin(), demand.end(),
                           [&](const auto& entry) { return entry.first == cls.job; });
    if (it == demand.end())
      demand.push_back({cls.job, fitting});
    else
      it->second += fitting;
  }
  for (const auto& [job, wanted] : demand) {
    absl::Status st = pool_.EnsureStarting(job, wanted);
    if (!st.ok()) RejectJobRequests(job, std::string(st.message()));
  }
}

absl::Status LeaseManager::ReturnLease(int64_t lease_id, bool kill_worker) {
  auto it = leases_.find(lease_id);
  if (it == leases_.end()) return absl::NotFoundError("unknown lease " + std::to_string(lease_id));
  WorkerId worker = it->second.worker;
  const bool actor = !it->second.actor.IsNil();
  ReleaseLease(lease_id);
  if (kill_worker || actor) {
    pool_.KillWorker(worker, actor ? "its actor's lease was returned" : "returned as broken");
    OnWorkerGone(worker);
    return absl::OkStatus();
  }
  pool_.PushIdle(worker);
  Schedule();
  return absl::OkStatus();
}

void LeaseManager::ReleaseLease(int64_t lease_id) {
  auto it = leases_.find(lease_id);
  Lease& lease = it->second;
  ResourceSet held = lease.resources;
  if (lease.blocked) held.Set("CPU", 0);  // Already given back.
  resources_.Release(held);
  if (!lease.gpu_bundle.first.empty()) {
    auto bundle = bundle_gpus_.find(lease.gpu_bundle);
    if (bundle != bundle_gpus_.end()) bundle->second.pool.Release(lease.bundle_gpu_ids, lease.bundle_gpu_units);
  } else {
    gpus_.Release(lease.gpu_ids, lease.resources.GetUnits(kGpuResource));
  }
  lease_by_worker_.erase(lease.worker);
  if (lease.request_id != 0) {
    granted_requests_.erase(RequestKey{KeyOwner(lease.caller, lease.actor), lease.request_id});
  }
  if (lease.actor.IsNil()) {
    if (auto per_job = leases_per_job_.find(lease.job); --per_job->second == 0) {
      leases_per_job_.erase(per_job);
    }
  }
  leases_.erase(it);
}

bool LeaseManager::TakeResources(const ResourceSet& shape, std::vector<int>* gpu_ids) {
  if (!FitsNow(shape)) return false;
  resources_.Acquire(shape);
  std::optional<std::vector<int>> ids = gpus_.Allocate(shape.GetUnits(kGpuResource));
  CHECK(ids.has_value()) << "took a shape whose GPU indices are taken";
  if (gpu_ids != nullptr) {
    *gpu_ids = std::move(*ids);
  } else {
    gpus_.Release(*ids, shape.GetUnits(kGpuResource));
  }
  return true;
}

void LeaseManager::GiveResources(const ResourceSet& shape, const std::vector<int>& gpu_ids) {
  resources_.Release(shape);
  if (!gpu_ids.empty()) gpus_.Release(gpu_ids, shape.GetUnits(kGpuResource));
  Schedule();
}

void LeaseManager::AddBundleGpus(const std::string& pg_hex, int index, std::vector<int> gpu_ids) {
  if (gpu_ids.empty()) return;
  const int n = static_cast<int>(gpu_ids.size());
  bundle_gpus_[BundleKey{pg_hex, index}] = BundleGpus{std::move(gpu_ids), GpuIndexPool(n)};
}

void LeaseManager::RemoveBundleGpus(const std::string& pg_hex, int index) {
  bundle_gpus_.erase(BundleKey{pg_hex, index});
}

void LeaseManager::AddCapacity(const ResourceSet& extra) {
  resources_.AddCapacity(extra);
  RetryInfeasible();
  Schedule();
}

void LeaseManager::RemoveCapacity(const ResourceSet& gone) { resources_.RemoveCapacity(gone); }

void LeaseManager::KillLeasesUsing(const ResourceSet& names, const std::string& reason) {
  const auto wanted = names.ToMap();
  std::vector<WorkerId> doomed;
  for (const auto& [id, lease] : leases_) {
    for (const auto& [name, amount] : lease.resources.ToMap()) {
      if (wanted.contains(name)) {
        doomed.push_back(lease.worker);
        break;
      }
    }
  }
  for (const WorkerId& worker : doomed) {
    pool_.KillWorker(worker, reason);
    OnWorkerGone(worker);
  }
}

void LeaseManager::SetBlocked(const WorkerId& worker, bool blocked) {
  auto it = lease_by_worker_.find(worker);
  if (it == lease_by_worker_.end()) return;  // A driver, or an idle worker.
  Lease& lease = leases_.at(it->second);
  if (lease.blocked == blocked) return;
  ResourceSet cpu;
  cpu.Set("CPU", lease.resources.Get("CPU"));
  lease.blocked = blocked;
  if (blocked) {
    resources_.Release(cpu);
    Schedule();
  } else {
    resources_.Acquire(cpu);
  }
}

void LeaseManager::OnWorkerGone(const WorkerId& worker) {
  std::vector<WorkerId> gone{worker};
  while (!gone.empty()) {
    WorkerId id = gone.back();
    gone.pop_back();
    if (auto it = lease_by_worker_.find(id); it != lease_by_worker_.end()) ReleaseLease(it->second);
    RevokeLeasesOf(id, &gone);
    DropRequestsOf(id);
  }
  Schedule();
}

void LeaseManager::RevokeLeasesOf(const WorkerId& caller, std::vector<WorkerId>* killed) {
  std::vector<int64_t> revoked;
  for (const auto& [lease_id, lease] : leases_) {
    // An actor's lease belongs to the GCS, not to a caller.
    if (lease.caller == caller && lease.actor.IsNil()) revoked.push_back(lease_id);
  }
  for (int64_t lease_id : revoked) {
    WorkerId worker = leases_.at(lease_id).worker;
    ReleaseLease(lease_id);
    pool_.KillWorker(worker, "the caller that leased it is gone");
    killed->push_back(worker);
  }
}

void LeaseManager::DropRequestsOf(const WorkerId& caller) {
  for (SchedulingClass& cls : classes_) {
    auto& queue = cls.queue;
    for (auto it = queue.begin(); it != queue.end();) {
      if (it->caller != caller) {
        ++it;
        continue;
      }
      Reject(*it, "the caller is gone");
      it = queue.erase(it);
      Dequeued(cls.resources);
    }
  }
}

void LeaseManager::RejectJobRequests(const JobId& job, const std::string& error,
                                     const std::function<bool(const LeaseRequest&)>& keep) {
  auto stays = [&](const LeaseRequest& r) { return r.job != job || (keep && keep(r)); };
  for (SchedulingClass& cls : classes_) {
    if (cls.job != job) continue;
    auto doomed = std::stable_partition(cls.queue.begin(), cls.queue.end(), stays);
    for (auto it = doomed; it != cls.queue.end(); ++it) Reject(*it, error);
    Dequeued(cls.resources, static_cast<int>(cls.queue.end() - doomed));
    cls.queue.erase(doomed, cls.queue.end());
  }
  auto doomed = std::stable_partition(infeasible_.begin(), infeasible_.end(), stays);
  for (auto it = doomed; it != infeasible_.end(); ++it) Reject(*it, error);
  infeasible_.erase(doomed, infeasible_.end());
}

void LeaseManager::Reject(LeaseRequest& request, const std::string& error) {
  LeaseReply reply;
  reply.error = error;
  request.reply(reply);
}


std::vector<WorkerId> LeaseManager::WorkersLeasedBy(const WorkerId& caller) const {
  std::vector<WorkerId> workers;
  for (const auto& [lease_id, lease] : leases_) {
    if (lease.caller == caller && !caller.IsNil()) workers.push_back(lease.worker);
  }
  return workers;
}

bool LeaseManager::HasRequestsOf(const JobId& job) const {
  for (const SchedulingClass& cls : classes_) {
    if (cls.job == job && !cls.queue.empty()) return true;
  }
  return std::any_of(infeasible_.begin(), infeasible_.end(),
                     [&](const LeaseRequest& r) { return r.job == job; });
}

}  // namespace lumen::raylet
