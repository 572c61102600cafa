// gcs/actor_rpc.h
//
// ActorRpc is the actor manager's seam to the rest of the cluster: leasing
// a dedicated worker from a node's raylet, returning such a lease, and
// pushing an actor's creation task to its worker. GrpcActorRpc is the real
// one (RayletService and CoreWorkerService over gRPC, with the cluster
// token; one raylet channel per node, one worker channel per push, dropped
// once answered); tests use FakeActorRpc (gcs/actor_test_util.h).
// Threading: called on the GCS loop; every `done` runs later on the loop,
// never inline (answers arrive on gRPC threads and go through the
// LoopMailbox, so none outlives the GCS).
// Failure: transport and server errors arrive as the callback's status
// (UNAVAILABLE when the peer is gone). ReturnWorker has no answer: it is
// repeated a few times while lost, then logged.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/rpc/client.h"
#include "gcs/loop_mailbox.h"
#include "proto/raylet.grpc.pb.h"
#include "proto/worker.grpc.pb.h"

namespace lumen::gcs {

class ActorRpc {
 public:
  using LeaseDone = std::function<void(absl::Status, rpc::RequestWorkerLeaseReply)>;
  using PushDone = std::function<void(absl::Status, rpc::PushTasksReply)>;

  virtual ~ActorRpc() = default;
  // RayletService.RequestWorkerLease at `node`'s raylet.
  virtual void RequestWorkerLease(const rpc::NodeInfo& node,
                                  const rpc::RequestWorkerLeaseRequest& request,
                                  LeaseDone done) = 0;
  // RayletService.ReturnWorker; `worker_exiting` makes the raylet kill it.
  virtual void ReturnWorker(const rpc::NodeInfo& node, int64_t lease_id, bool worker_exiting) = 0;
  // CoreWorkerService.PushTasks of one creation task to the worker at `worker`.
  virtual void PushCreationTask(const rpc::Address& worker, const rpc::TaskSpec& spec,
                                PushDone done) = 0;
  // The node is dead: its channel can go.
  virtual void ForgetNode(const std::string& node_id) = 0;
};

class GrpcActorRpc : public ActorRpc {
 public:
  GrpcActorRpc(std::string token, std::shared_ptr<LoopMailbox> mailbox)
      : token_(std::move(token)), mailbox_(std::move(mailbox)) {}

  // Names the GCS as the caller of creation tasks (set once its port is known).
  void set_caller(rpc::Address caller) { caller_ = std::move(caller); }

  void RequestWorkerLease(const rpc::NodeInfo& node, const rpc::RequestWorkerLeaseRequest& request,
                          LeaseDone done) override;
  void ReturnWorker(const rpc::NodeInfo& node, int64_t lease_id, bool worker_exiting) override;
  void PushCreationTask(const rpc::Address& worker, const rpc::TaskSpec& spec,
                        PushDone done) override;
  void ForgetNode(const std::string& node_id) override { raylets_.erase(node_id); }

 private:
  using RayletClient = rpc::RpcClient<rpc::RayletService>;
  using WorkerClient = rpc::RpcClient<rpc::CoreWorkerService>;

  RayletClient& Raylet(const rpc::NodeInfo& node);
  void SendReturn(const rpc::NodeInfo& node, const rpc::ReturnWorkerRequest& request, int tries);

  std::string token_;
  std::shared_ptr<LoopMailbox> mailbox_;
  rpc::Address caller_;
  absl::flat_hash_map<std::string, std::unique_ptr<RayletClient>> raylets_;  // By node id.
  int64_t next_push_ = 1;
  absl::flat_hash_map<int64_t, std::unique_ptr<WorkerClient>> pushes_;  // In flight.
};

}  // namespace lumen::gcs
