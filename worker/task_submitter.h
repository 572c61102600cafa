// worker/task_submitter.h
//
// TaskSubmitter runs the caller's side of normal tasks: it queues tasks by
// resource shape, leases workers for each shape from the local raylet,
// pushes tasks straight to the leased workers, reuses a lease while its
// shape has queued tasks, and returns it after a short idle grace period.
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
// Threading: the owner's EventLoop only (Submit must be posted there), but
// results are handed to on_reply on the gRPC thread that received them, so
// a waiting Get wakes without a hop through the loop.
// Dependencies of a task must be resolved before Submit.
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "common/event_loop.h"
#include "common/rpc/client.h"
#include "proto/raylet.grpc.pb.h"
#include "proto/worker.grpc.pb.h"
#include "worker/client_pool.h"

namespace lumen::worker {

using RayletClient = rpc::RpcClient<rpc::RayletService>;

class TaskSubmitter {
 public:
  struct Callbacks {
    // The worker ran the task (the reply may carry the task's own error).
    // Called on a gRPC thread, as soon as the reply arrives.
    std::function<void(const rpc::TaskSpec&, rpc::PushTaskReply&&)> on_reply;
    // The task cannot run: retries ran out, or the raylet refused it.
    std::function<void(const rpc::TaskSpec&, const rpc::ErrorInfo&)> on_failure;
    // The first task of a resource shape not seen before (loop thread).
    std::function<void(const rpc::TaskSpec&)> on_new_shape;
  };

  TaskSubmitter(EventLoop& loop, RayletClient& raylet, ClientPool& workers, Callbacks callbacks,
                int idle_lease_grace_ms = 20);

  void Submit(rpc::TaskSpec spec);
  // Returns every held lease to the raylet (at shutdown).
  void ReturnAllLeases();


 private:
  struct Lease {
    int64_t id = 0;
    rpc::Address worker;
    int32_t pid = 0;
    std::vector<int32_t> gpu_ids;  // Reserved for this lease by the raylet.
    std::shared_ptr<CoreWorkerClient> client;
    std::shared_ptr<TaskChannelClient> channel;  // Null: push over gRPC.
    bool busy = false;
    uint64_t idle_epoch = 0;  // Bumped whenever the lease gets work.
  };
  struct Shape {
    std::map<std::string, double> resources;
    std::string job_id;
    std::string function_name;
    std::deque<rpc::TaskSpec> queue;
    std::unordered_map<int64_t, Lease> leases;
    int pending_lease_requests = 0;
    double avg_exec_micros = -1;  // Moving average; < 0 until measured.
  };
  static constexpr int kMaxBatch = 64;
  static constexpr double kBatchBelowMicros = 1000;

  static std::string ShapeKey(const rpc::TaskSpec& spec);
  void Pump(const std::string& key);
  void RequestLease(const std::string& key, Shape& shape);
  void OnLeaseGranted(const std::string& key, absl::Status status,
                      rpc::RequestWorkerLeaseReply&& reply);
  size_t BatchSize(const Shape& shape) const;
  // Opens (or reuses) the task channel to a newly leased worker; the lease
  // stays busy until that is settled.
  void OpenChannel(const std::string& key, Lease& lease);
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
  void ReturnLease(int64_t lease_id, bool worker_exiting);
  void FailQueued(Shape& shape, const rpc::ErrorInfo& error);

  EventLoop& loop_;
  RayletClient& raylet_;
  ClientPool& workers_;
  Callbacks callbacks_;
  int idle_lease_grace_ms_;
  std::unordered_map<std::string, Shape> shapes_;
};

}  // namespace lumen::worker
