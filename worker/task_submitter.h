// worker/task_submitter.h
//
// TaskSubmitter runs the caller's side of normal tasks: it queues tasks by
// resource shape, leases workers for each shape from the local raylet,
// pushes tasks straight to the leased workers, reuses a lease while its
// shape has queued tasks, and returns it after a short idle grace period,
// or, with tasks still queued, at the first task boundary after it has been
// held for a lease quantum (so that the raylet can share the node fairly
// between jobs; a new lease is requested at once).
// Tasks known to be tiny (their shape's average run time, as the workers
// report it, is under kBatchBelowMicros) travel in batches of up to
// kMaxBatch per push, so the per-call overhead is shared; all others, and
// every task before the first measurement, travel one per push so that
// long tasks spread over all workers. A push that fails because the worker died is
// retried on a new lease up to the task's max_retries; then the task fails
// with WORKER_DIED.
//
//      Submit ──► queue[shape] ──► idle lease? ──► PushTasks ──► reply ─┐
//                     │   no lease: RequestWorkerLease (bounded)        │
//                     └◄──────────── lease idle again ◄─────────────────┘
//
// A refused lease request fails the queued tasks of its shape only when no
// lease of that shape is held or coming (otherwise those drain the queue).
// Their error tells the cause apart (docs/workers.md, "Lease errors"): a
// raylet that is unreachable (dead or stopped), one that found the shape
// invalid (INVALID_REQUEST), a token it does not accept, a real refusal.
// Spillback (docs/scheduling.md): a raylet may answer retry_at_raylet; the
// request then goes to that raylet, marked grant_or_reject so that it is
// not spilled again. Leases are held per (raylet, lease id) and returned to
// the raylet that granted them; a spilled request whose raylet cannot be
// reached goes back to the local raylet (which then knows better, or the
// GCS soon marks the node dead). Tasks of a shape carry its scheduling
// strategy (SPREAD, node affinity), which is part of the shape.
// Lease requests name the caller (caller_worker_id), so the raylet revokes
// them, and kills the leased workers, when the caller dies; and carry a
// request_id, so that a request repeated after a lost reply is the same
// request to the raylet (no worker leased twice or leaked).
// Seams: LeaseClient and TaskPusher (task_submitter_io.h); unit tested with
// fakes in task_submitter_test.cc.
// Threading: the owner's EventLoop only (Submit must be posted there), but
// results are handed to on_reply on the thread that received them, so a
// waiting Get wakes without a hop through the loop.
// Dependencies of a task must be resolved before Submit.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/clock.h"
#include "common/event_loop.h"
#include "common/id.h"
#include "proto/raylet.pb.h"
#include "proto/worker.pb.h"
#include "worker/task_submitter_io.h"

namespace lumen::worker {

class TaskSubmitter {
 public:
  struct Callbacks {
    // The worker ran the task (the reply may carry the task's own error).
    // Called on a gRPC thread, as soon as the reply arrives.
    // `batch` is the whole reply of the push (who ran it; its `replies`
    // may have been moved from).
    std::function<void(const rpc::TaskSpec&, rpc::PushTaskReply&&, const rpc::PushTasksReply& batch)>
        on_reply;
    // The task cannot run: retries ran out, or the raylet refused it.
    std::function<void(const rpc::TaskSpec&, const rpc::ErrorInfo&)> on_failure;
    // The first task of a resource shape not seen before (loop thread).
    std::function<void(const rpc::TaskSpec&)> on_new_shape;
  };

  struct Options {
    WorkerId caller;               // This process, named in lease requests.
    rpc::Address caller_address;   // Sent once per push as the returns' owner.
    int idle_lease_grace_ms = 20;  // An idle lease is returned after this.
    // A lease held this long goes back to the raylet at its next task
    // boundary even with tasks queued, and a new one is requested: the
    // raylet then shares the node among the jobs waiting (docs/raylet.md,
    // "Fair sharing"). 0: never.
    int lease_quantum_ms = 100;
    const Clock* clock = nullptr;  // Null: the system clock.
    // A lease request whose call fails as if the message were lost
    // (UNAVAILABLE, DEADLINE_EXCEEDED) is sent again, with the same
    // request_id, up to this many attempts in all, waiting base << n ms
    // (at most kMaxLeaseRetryDelayMs) between them: a dead raylet is
    // declared after about 2 s.
    int lease_request_attempts = 8;
    int lease_retry_base_ms = 50;
    // Told how many more (or, negative, fewer) queued tasks wait for a
    // shape no node has, so submission backpressure leaves them out
    // (InFlightLimit::Exempt). May be empty.
    std::function<void(int64_t)> exempt_from_limit;
  };

  // `loop`, `leases` and `pusher` are not owned and must outlive this.
  TaskSubmitter(EventLoop& loop, LeaseClient& leases, TaskPusher& pusher, Callbacks callbacks,
                Options options);

  void Submit(rpc::TaskSpec&& spec);
  // No node of the cluster has the resources `spec`'s shape needs (the
  // on_new_shape check found it): its queued tasks, and those queued later,
  // are exempt from submission backpressure until a lease of the shape is
  // granted (a node that has them joined). Ignored once a lease is held.
  void MarkInfeasible(const rpc::TaskSpec& spec);
  // Returns every held lease to the raylet (at shutdown).
  void ReturnAllLeases();


 private:
  struct Lease {
    int64_t id = 0;  // This submitter's key of the lease.
    std::string raylet;  // "host:port" of the raylet that granted it; empty: local.
    int64_t raylet_lease_id = 0;  // That raylet's id of the lease.
    rpc::Address worker;
    int32_t pid = 0;
    std::vector<int32_t> gpu_ids;  // Reserved for this lease by the raylet.
    std::shared_ptr<TaskPusher::Connection> connection;  // Null while connecting.
    bool busy = false;
    uint64_t idle_epoch = 0;  // Bumped whenever the lease gets work.
    bool return_timer_armed = false;
    int64_t granted_ms = 0;  // When the raylet granted it (clock's monotonic ms).
  };
  struct Shape {
    std::map<std::string, double> resources;
    std::string job_id;
    std::string function_name;
    rpc::SchedulingStrategy strategy;
    std::deque<rpc::TaskSpec> queue;
    std::unordered_map<int64_t, Lease> leases;
    int pending_lease_requests = 0;
    // A lease request was refused while others were held: ask for more
    // only once a grant shows the raylet grants again.
    bool refused = false;
    double avg_exec_micros = -1;  // Moving average; < 0 until measured.
    // No node has these resources (MarkInfeasible): the queue is exempt
    // from backpressure until a lease is granted.
    bool infeasible = false;
  };
  static constexpr int kMaxBatch = 64;
  static constexpr double kBatchBelowMicros = 1000;

  static std::string ShapeKey(const rpc::TaskSpec& spec);
  void Pump(const std::string& key);
  void RequestLease(const std::string& key, Shape& shape);
  void SendLeaseRequest(const std::string& key, rpc::RequestWorkerLeaseRequest request,
                        const std::string& raylet, int attempt);
  // The answer of `raylet`: granted, refused, spilled, or lost.
  void OnLeaseReply(const std::string& key, const std::string& raylet,
                    std::shared_ptr<rpc::RequestWorkerLeaseRequest> request, int attempt,
                    absl::Status status, rpc::RequestWorkerLeaseReply&& reply);
  void OnLeaseGranted(const std::string& key, const std::string& raylet, absl::Status status,
                      rpc::RequestWorkerLeaseReply&& reply);
  size_t BatchSize(const Shape& shape) const;
  // Connects to a newly leased worker; the lease stays busy until then.
  void Connect(const std::string& key, Lease& lease);
  // Moves the first `n` queued tasks of `shape` into one push to `lease`
  // (no copy: the request keeps the specs until the reply is handled).
  void PushTo(const std::string& key, Shape& shape, Lease& lease, size_t n);
  // On the reply's thread: checks the reply and hands results to on_reply.
  void DeliverResults(const rpc::PushTasksRequest& request, absl::Status& status,
                      rpc::PushTasksReply& reply);
  void OnPushReply(const std::string& key, int64_t lease_id,
                   std::shared_ptr<rpc::PushTasksRequest> request, absl::Status status,
                   rpc::PushTasksReply&& reply);
  void RetryOrFail(Shape& shape, rpc::TaskSpec spec, int pid, const absl::Status& status);
  void MaybeReturnLater(const std::string& key, Lease& lease);
  void ReturnLease(const Lease& lease, bool worker_exiting);
  void FailQueued(Shape& shape, const rpc::ErrorInfo& error);
  // Sets shape.infeasible, exempting or counting again its queued tasks.
  void SetInfeasible(Shape& shape, bool infeasible);

  EventLoop& loop_;
  LeaseClient& leases_;
  TaskPusher& pusher_;
  Callbacks callbacks_;
  Options options_;
  SystemClock system_clock_;
  const Clock& clock_;
  std::unordered_map<std::string, Shape> shapes_;
  int64_t next_lease_request_id_ = 1;
  int64_t next_lease_key_ = 1;
};

}  // namespace lumen::worker
