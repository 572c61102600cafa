// worker/task_submitter_io.h
//
// The two seams of TaskSubmitter to the outside: LeaseClient, the lease API
// of the local raylet and of the raylets it spills to, and TaskPusher, which opens connections to leased
// workers and pushes task batches over them. The real implementations sit
// on the raylet's gRPC client and on the ClientPool (the task channel, or
// the PushTasks RPC where no channel opens); worker/fake_submitter_io.h
// has fakes for unit tests, which answer when the test says so.
// Threading: any thread may call; callbacks run on any thread (the real
// lease client delivers on the owner's loop, pushes on the channel's
// reader or a gRPC thread), never inline under a caller's lock.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "proto/raylet.grpc.pb.h"
#include "proto/worker.pb.h"
#include "worker/client_pool.h"

namespace lumen::worker {

using RayletClient = rpc::RpcClient<rpc::RayletService>;

// `raylet` names the raylet, "host:port"; empty: the local one.
class LeaseClient {
 public:
  using LeaseCallback = std::function<void(absl::Status, rpc::RequestWorkerLeaseReply&&)>;
  virtual ~LeaseClient() = default;
  virtual void RequestWorkerLease(const std::string& raylet,
                                  const rpc::RequestWorkerLeaseRequest& request,
                                  LeaseCallback callback) = 0;
  // Fire and forget: a lost return is reclaimed when the caller goes away.
  virtual void ReturnWorker(const std::string& raylet, const rpc::ReturnWorkerRequest& request) = 0;
};

class TaskPusher {
 public:
  using PushCallback = std::function<void(absl::Status, rpc::PushTasksReply&&)>;
  // One open connection to a leased worker.
  class Connection {
   public:
    virtual ~Connection() = default;
    // `callback` gets the worker's reply, or UNAVAILABLE when the
    // connection broke (the worker died).
    virtual void Push(const rpc::PushTasksRequest& request, PushCallback callback) = 0;
  };
  using ConnectCallback = std::function<void(std::shared_ptr<Connection>)>;

  virtual ~TaskPusher() = default;
  // Opens (or reuses) a connection to `worker`; never null.
  virtual void Connect(const rpc::Address& worker, ConnectCallback callback) = 0;
  // Drops what is cached for `worker` (it died or went away).
  virtual void Forget(const rpc::Address& worker) = 0;
};

// LeaseClient over the local raylet's gRPC client (`raylet` not owned) and
// clients of the other raylets it spills to, made on first use with `token`
// and `loop` and kept (one per node of the cluster; a dead node's stays,
// failing fast).
class RayletLeaseClient : public LeaseClient {
 public:
  RayletLeaseClient(RayletClient& raylet, std::string token = "", EventLoop* loop = nullptr)
      : raylet_(raylet), token_(std::move(token)), loop_(loop) {}
  void RequestWorkerLease(const std::string& raylet, const rpc::RequestWorkerLeaseRequest& request,
                          LeaseCallback callback) override;
  // Sent again when lost (returns are idempotent at the raylet).
  void ReturnWorker(const std::string& raylet, const rpc::ReturnWorkerRequest& request) override;

 private:
  static void SendReturn(RayletClient& raylet, const rpc::ReturnWorkerRequest& request,
                         int attempt);
  RayletClient& ClientFor(const std::string& raylet);
  RayletClient& raylet_;
  const std::string token_;
  EventLoop* const loop_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<RayletClient>> remote_ ABSL_GUARDED_BY(mu_);
};

// TaskPusher over the ClientPool: the task channel when the worker serves
// one, else the PushTasks RPC (`pool` not owned).
class PooledTaskPusher : public TaskPusher {
 public:
  explicit PooledTaskPusher(ClientPool& pool) : pool_(pool) {}
  void Connect(const rpc::Address& worker, ConnectCallback callback) override;
  void Forget(const rpc::Address& worker) override { pool_.Forget(worker); }

 private:
  ClientPool& pool_;
};

}  // namespace lumen::worker
