#include "worker/task_submitter.h"

#include <algorithm>
#include <cstring>
#include <string_view>

#include "absl/container/inlined_vector.h"

#include "common/logging.h"
#include "common/rpc/grpc_status.h"

namespace lumen::worker {
namespace {

constexpr int kMaxPendingLeaseRequests = 16;
constexpr int kMaxLeaseRetryDelayMs = 400;
// Attempts at a raylet that a spill named, before going back to the local one.
constexpr int kRemoteLeaseAttempts = 3;

std::string RayletAddress(const rpc::Address& address) {
  return address.ip() + ":" + std::to_string(address.port());
}

rpc::ErrorInfo MakeError(rpc::ErrorInfo::Type type, const std::string& message,
                         const rpc::TaskSpec& spec, int pid = 0) {
  rpc::ErrorInfo error;
  error.set_type(type);
  error.set_message(message);
  error.set_function_name(spec.function_name());
  error.set_pid(pid);
  return error;
}

// Why no worker could be leased, told by cause, with what the user can do.
rpc::ErrorInfo LeaseError(const absl::Status& status, const rpc::RequestWorkerLeaseReply& reply,
                          const rpc::TaskSpec& spec) {
  const std::string task = spec.function_name();
  const std::string detail(status.message());
  switch (status.code()) {
    case absl::StatusCode::kOk:  // A real refusal: the reply says why.
      return MakeError(rpc::ErrorInfo::WORKER_DIED,
                       "the raylet refused a worker lease: " + reply.error(), spec);
    case absl::StatusCode::kInvalidArgument:
      return MakeError(rpc::ErrorInfo::INVALID_REQUEST,
                       detail + "; fix the task's SetResource/SetResources (docs/raylet.md)", spec);
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return MakeError(rpc::ErrorInfo::WORKER_DIED,
                       "cannot schedule " + task +
                           ": the local raylet is unreachable; it died or was stopped (" + detail +
                           "). This node runs no more tasks: restart it with `lumen start`, or, "
                           "for the private cluster of ray::Init(), call ray::Shutdown() and "
                           "ray::Init() again",
                       spec);
    case absl::StatusCode::kUnauthenticated:
    case absl::StatusCode::kPermissionDenied:
      return MakeError(rpc::ErrorInfo::WORKER_DIED,
                       "cannot schedule " + task + ": the raylet does not accept this process's "
                           "cluster token (" + detail +
                           "); the driver must use the cluster's token (docs/operations.md)",
                       spec);
    default:
      return MakeError(rpc::ErrorInfo::WORKER_DIED,
                       "cannot schedule " + task + ": the worker lease request failed (" +
                           status.ToString() + ")",
                       spec);
  }
}

}  // namespace

TaskSubmitter::TaskSubmitter(EventLoop& loop, LeaseClient& leases, TaskPusher& pusher,
                             Callbacks callbacks, Options options)
    : loop_(loop),
      leases_(leases),
      pusher_(pusher),
      callbacks_(std::move(callbacks)),
      options_(std::move(options)),
      clock_(options_.clock ? *options_.clock : system_clock_) {}

std::string TaskSubmitter::ShapeKey(const rpc::TaskSpec& spec) {
  // Per task, on the loop: no ordered map, no number formatting (a
  // to_string of each amount was a visible share of a tiny task's cost).
  // Each resource as its name, '=', the amount's 8 bytes and ';', sorted
  // by name (a protobuf map's order is unspecified). Never shown.
  absl::InlinedVector<std::pair<std::string_view, double>, 4> sorted;
  size_t size = 0;
  for (const auto& [name, amount] : spec.required_resources()) {
    sorted.emplace_back(name, amount);
    size += name.size() + 2 + sizeof(double);
  }
  if (sorted.size() > 1) std::sort(sorted.begin(), sorted.end());
  std::string key;
  key.reserve(size);
  for (const auto& [name, amount] : sorted) {
    char bytes[sizeof(double)];
    std::memcpy(bytes, &amount, sizeof(double));
    key.append(name).append(1, '=').append(bytes, sizeof(double)).append(1, ';');
  }
  if (spec.has_scheduling_strategy()) key += "|" + spec.scheduling_strategy().SerializeAsString();
  return key;
}

void TaskSubmitter::Submit(rpc::TaskSpec&& spec) {
  std::string key = ShapeKey(spec);
  Shape& shape = shapes_[key];
  if (shape.resources.empty() && shape.job_id.empty()) {
    shape.resources.insert(spec.required_resources().begin(), spec.required_resources().end());
    shape.job_id = spec.job_id();
    shape.function_name = spec.function_name();
    shape.strategy = spec.scheduling_strategy();
    if (callbacks_.on_new_shape) callbacks_.on_new_shape(spec);
  }
  shape.queue.push_back(std::move(spec));
  if (shape.infeasible && options_.exempt_from_limit) options_.exempt_from_limit(1);
  Pump(key);
}

void TaskSubmitter::MarkInfeasible(const rpc::TaskSpec& spec) {
  auto it = shapes_.find(ShapeKey(spec));
  if (it == shapes_.end() || !it->second.leases.empty()) return;
  SetInfeasible(it->second, true);
}

void TaskSubmitter::SetInfeasible(Shape& shape, bool infeasible) {
  if (shape.infeasible == infeasible) return;
  shape.infeasible = infeasible;
  const auto n = static_cast<int64_t>(shape.queue.size());
  if (n > 0 && options_.exempt_from_limit) options_.exempt_from_limit(infeasible ? n : -n);
}

void TaskSubmitter::Pump(const std::string& key) {
  auto it = shapes_.find(key);
  if (it == shapes_.end()) return;
  Shape& shape = it->second;
  for (auto& [id, lease] : shape.leases) {
    if (shape.queue.empty()) break;
    if (lease.busy) continue;
    PushTo(key, shape, lease, BatchSize(shape));
  }
  if (shape.refused && !shape.leases.empty()) return;  // Those drain the queue.
  int wanted = std::min<int>(shape.queue.size(), kMaxPendingLeaseRequests);
  while (shape.pending_lease_requests < wanted) RequestLease(key, shape);
}

void TaskSubmitter::RequestLease(const std::string& key, Shape& shape) {
  rpc::RequestWorkerLeaseRequest request;
  request.set_job_id(shape.job_id);
  request.set_function_name(shape.function_name);
  request.set_caller_worker_id(options_.caller.Binary());
  for (const auto& [name, amount] : shape.resources) (*request.mutable_resources())[name] = amount;
  if (shape.strategy.kind() != rpc::SchedulingStrategy::DEFAULT) {
    *request.mutable_scheduling_strategy() = shape.strategy;
  }
  request.set_request_id(next_lease_request_id_++);
  ++shape.pending_lease_requests;
  SendLeaseRequest(key, std::move(request), "", 1);
}

void TaskSubmitter::SendLeaseRequest(const std::string& key,
                                     rpc::RequestWorkerLeaseRequest request,
                                     const std::string& raylet, int attempt) {
  auto shared = std::make_shared<rpc::RequestWorkerLeaseRequest>(std::move(request));
  leases_.RequestWorkerLease(raylet, *shared, [this, key, raylet, shared, attempt](
                                                  absl::Status status,
                                                  rpc::RequestWorkerLeaseReply&& reply) {
    loop_.Post([this, key, raylet, shared, attempt, status, reply = std::move(reply)]() mutable {
      OnLeaseReply(key, raylet, std::move(shared), attempt, status, std::move(reply));
    });
  });
}

void TaskSubmitter::OnLeaseReply(const std::string& key, const std::string& raylet,
                                 std::shared_ptr<rpc::RequestWorkerLeaseRequest> request,
                                 int attempt, absl::Status status,
                                 rpc::RequestWorkerLeaseReply&& reply) {
  const int attempts = raylet.empty() ? options_.lease_request_attempts : kRemoteLeaseAttempts;
  if (rpc::IsLostMessage(status) && attempt < attempts) {
    // The request or its reply may be lost on the way; the raylet knows a
    // repeat by its request_id.
    VLOG(1) << "lease request " << request->request_id() << " failed (" << status
            << "); sending it again";
    const int delay_ms =
        std::min(options_.lease_retry_base_ms << (attempt - 1), kMaxLeaseRetryDelayMs);
    loop_.RunAfter(std::chrono::milliseconds(delay_ms), [this, key, raylet, request, attempt] {
      SendLeaseRequest(key, *request, raylet, attempt + 1);
    });
    return;
  }
  if (rpc::IsLostMessage(status) && !raylet.empty()) {
    // The raylet a spill named is unreachable (its node may be dying).
    LOG(INFO) << "the raylet at " << raylet << " did not answer a spilled lease request ("
              << status << "); asking the local raylet again";
    request->set_grant_or_reject(false);
    SendLeaseRequest(key, *request, "", 1);
    return;
  }
  if (status.ok() && !reply.rejected() && reply.lease_id() == 0 &&
      reply.retry_at_raylet().port() > 0) {
    // Spillback: ask the raylet named, which keeps the request (no ping-pong).
    const std::string next = RayletAddress(reply.retry_at_raylet());
    VLOG(1) << "lease request " << request->request_id() << " spilled to " << next;
    request->set_grant_or_reject(true);
    SendLeaseRequest(key, *request, next, 1);
    return;
  }
  OnLeaseGranted(key, raylet, status, std::move(reply));
}

void TaskSubmitter::OnLeaseGranted(const std::string& key, const std::string& raylet,
                                   absl::Status status, rpc::RequestWorkerLeaseReply&& reply) {
  Shape& shape = shapes_[key];
  --shape.pending_lease_requests;
  if (!status.ok() || reply.rejected()) {
    if (!shape.leases.empty() || shape.pending_lease_requests > 0) {
      // Healthy leases (or answers still to come) serve the queue.
      LOG(INFO) << "no new worker lease for " << shape.function_name << ": "
                << (status.ok() ? reply.error() : status.ToString());
      shape.refused = true;
      return;
    }
    if (!shape.queue.empty()) FailQueued(shape, LeaseError(status, reply, shape.queue.front()));
    return;
  }
  shape.refused = false;
  SetInfeasible(shape, false);  // A node that has the resources joined.
  Lease lease;
  lease.id = next_lease_key_++;
  lease.raylet = raylet;
  lease.raylet_lease_id = reply.lease_id();
  lease.worker = reply.worker_address();
  lease.pid = reply.worker_pid();
  lease.gpu_ids.assign(reply.gpu_ids().begin(), reply.gpu_ids().end());
  lease.granted_ms = clock_.MonotonicMs();
  auto [it, inserted] = shape.leases.emplace(lease.id, std::move(lease));
  Connect(key, it->second);
}

void TaskSubmitter::Connect(const std::string& key, Lease& lease) {
  lease.busy = true;
  int64_t lease_id = lease.id;
  pusher_.Connect(lease.worker, [this, key, lease_id](
                                    std::shared_ptr<TaskPusher::Connection> connection) {
    loop_.Post([this, key, lease_id, connection = std::move(connection)]() mutable {
      Shape& shape = shapes_[key];
      auto it = shape.leases.find(lease_id);
      if (it == shape.leases.end()) return;
      it->second.connection = std::move(connection);
      it->second.busy = false;
      if (shape.queue.empty()) MaybeReturnLater(key, it->second);
      Pump(key);
    });
  });
}

size_t TaskSubmitter::BatchSize(const Shape& shape) const {
  if (shape.avg_exec_micros < 0 || shape.avg_exec_micros >= kBatchBelowMicros) return 1;
  // Share the queue among the leases we hold or expect.
  size_t workers = std::max<size_t>(1, shape.leases.size() + shape.pending_lease_requests);
  return std::clamp<size_t>(shape.queue.size() / workers, 1, kMaxBatch);
}

void TaskSubmitter::PushTo(const std::string& key, Shape& shape, Lease& lease, size_t n) {
  lease.busy = true;
  ++lease.idle_epoch;
  auto request = std::make_shared<rpc::PushTasksRequest>();
  *request->mutable_caller() = options_.caller_address;
  request->mutable_tasks()->Reserve(static_cast<int>(n));
  for (size_t i = 0; i < n && !shape.queue.empty(); ++i) {
    rpc::TaskSpec* spec = request->add_tasks()->mutable_spec();
    spec->Swap(&shape.queue.front());
    shape.queue.pop_front();
    for (int32_t gpu : lease.gpu_ids) spec->add_gpu_ids(gpu);
  }
  int64_t lease_id = lease.id;
  auto on_reply = [this, key, lease_id, request](absl::Status status,
                                                  rpc::PushTasksReply&& reply) mutable {
    DeliverResults(*request, status, reply);
    loop_.Post([this, key, lease_id, request = std::move(request), status,
                reply = std::move(reply)]() mutable {
      OnPushReply(key, lease_id, std::move(request), status, std::move(reply));
    });
  };
  lease.connection->Push(*request, std::move(on_reply));
}

void TaskSubmitter::DeliverResults(const rpc::PushTasksRequest& request, absl::Status& status,
                                   rpc::PushTasksReply& reply) {
  if (status.ok() && reply.replies_size() != request.tasks_size()) {
    status = absl::InternalError("the worker answered " + std::to_string(reply.replies_size()) +
                                 " of " + std::to_string(request.tasks_size()) + " tasks");
  }
  if (!status.ok()) return;
  for (int i = 0; i < request.tasks_size(); ++i) {
    // Keep what the loop needs; hand the results over.
    rpc::PushTaskReply& one = *reply.mutable_replies(i);
    rpc::PushTaskReply results;
    results.Swap(&one);
    one.set_exec_micros(results.exec_micros());
    one.set_worker_exiting(results.worker_exiting());
    callbacks_.on_reply(request.tasks(i).spec(), std::move(results), reply);
  }
}

void TaskSubmitter::OnPushReply(const std::string& key, int64_t lease_id,
                                std::shared_ptr<rpc::PushTasksRequest> request,
                                absl::Status status, rpc::PushTasksReply&& reply) {
  Shape& shape = shapes_[key];
  auto it = shape.leases.find(lease_id);
  int pid = it == shape.leases.end() ? 0 : it->second.pid;
  if (status.ok()) {  // Results were delivered by DeliverResults.
    bool exiting = false;
    for (const auto& one : reply.replies()) {
      double micros = static_cast<double>(one.exec_micros());
      shape.avg_exec_micros =
          shape.avg_exec_micros < 0 ? micros : 0.8 * shape.avg_exec_micros + 0.2 * micros;
      exiting |= one.worker_exiting();
    }
    if (it != shape.leases.end()) {
      if (exiting) {
        ReturnLease(it->second, true);
        shape.leases.erase(it);
      } else if (options_.lease_quantum_ms > 0 && !shape.queue.empty() &&
                 clock_.MonotonicMs() - it->second.granted_ms >= options_.lease_quantum_ms) {
        // Its quantum is over: back to the raylet, which shares the node
        // among the jobs waiting; Pump below asks for a new lease.
        ReturnLease(it->second, false);
        shape.leases.erase(it);
      } else {
        it->second.busy = false;
        MaybeReturnLater(key, it->second);
      }
    }
  } else {
    // The worker is gone (or unreachable): never reuse this lease.
    if (it != shape.leases.end()) {
      pusher_.Forget(it->second.worker);
      // To a dead raylet this fails a few times and is forgotten.
      ReturnLease(it->second, true);
      shape.leases.erase(it);
    }
    // Retry in the original order, ahead of the tasks queued since.
    auto& tasks = *request->mutable_tasks();
    for (int i = tasks.size() - 1; i >= 0; --i) {
      rpc::TaskSpec spec;
      spec.Swap(tasks[i].mutable_spec());
      spec.clear_gpu_ids();  // The next lease brings its own.
      RetryOrFail(shape, std::move(spec), pid, status);
    }
  }
  Pump(key);
}

void TaskSubmitter::RetryOrFail(Shape& shape, rpc::TaskSpec spec, int pid,
                                const absl::Status& status) {
  if (spec.attempt() < spec.max_retries()) {
    LOG(INFO) << "worker pid=" << pid << " running " << spec.function_name() << " failed ("
              << status << "); retrying";
    spec.set_attempt(spec.attempt() + 1);
    shape.queue.push_front(std::move(spec));
    if (shape.infeasible && options_.exempt_from_limit) options_.exempt_from_limit(1);
    return;
  }
  callbacks_.on_failure(
      spec, MakeError(rpc::ErrorInfo::WORKER_DIED,
                      "the worker (pid=" + std::to_string(pid) + ") running " +
                          spec.function_name() + " died or was unreachable (" +
                          std::string(status.message()) + "); " +
                          std::to_string(spec.max_retries()) + " retries used",
                      spec, pid));
}

// One timer per idle period of a lease, not one per reply: a lease busy
// with back-to-back tasks re-arms it only when it fires and finds the
// lease used since (a synchronous caller's replies would otherwise each
// create and cancel a timer).
void TaskSubmitter::MaybeReturnLater(const std::string& key, Lease& lease) {
  if (lease.busy || lease.return_timer_armed) return;
  lease.return_timer_armed = true;
  uint64_t epoch = lease.idle_epoch;
  int64_t lease_id = lease.id;
  loop_.RunAfter(std::chrono::milliseconds(options_.idle_lease_grace_ms), [this, key, lease_id, epoch] {
    Shape& shape = shapes_[key];
    auto it = shape.leases.find(lease_id);
    if (it == shape.leases.end()) return;
    Lease& lease = it->second;
    lease.return_timer_armed = false;
    if (lease.busy) return;  // Its reply arms the next period.
    if (lease.idle_epoch != epoch || !shape.queue.empty()) {
      MaybeReturnLater(key, lease);  // Used since: a new idle period starts.
      return;
    }
    ReturnLease(lease, false);
    shape.leases.erase(it);
  });
}

void TaskSubmitter::ReturnLease(const Lease& lease, bool worker_exiting) {
  rpc::ReturnWorkerRequest request;
  request.set_lease_id(lease.raylet_lease_id);
  request.set_worker_exiting(worker_exiting);
  leases_.ReturnWorker(lease.raylet, request);
}

void TaskSubmitter::FailQueued(Shape& shape, const rpc::ErrorInfo& error) {
  SetInfeasible(shape, false);
  while (!shape.queue.empty()) {
    rpc::TaskSpec spec = std::move(shape.queue.front());
    shape.queue.pop_front();
    callbacks_.on_failure(spec, error);
  }
}

void TaskSubmitter::ReturnAllLeases() {
  for (auto& [key, shape] : shapes_) {
    for (auto& [id, lease] : shape.leases) ReturnLease(lease, false);
    shape.leases.clear();
  }
}

}  // namespace lumen::worker
