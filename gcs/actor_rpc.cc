#include "gcs/actor_rpc.h"

#include "common/logging.h"
#include "common/rpc/grpc_status.h"
#include "gcs/node_manager.h"

namespace lumen::gcs {

namespace {
constexpr int kReturnTries = 3;
constexpr int64_t kReturnTimeoutMs = 5000;
}  // namespace

GrpcActorRpc::RayletClient& GrpcActorRpc::Raylet(const rpc::NodeInfo& node) {
  std::string address = node.ip() + ":" + std::to_string(node.raylet_port());
  auto& client = raylets_[node.node_id()];
  if (client == nullptr || client->address() != address) {
    // No loop: answers come on gRPC threads and go through the mailbox.
    client = std::make_unique<RayletClient>(address, token_);
  }
  return *client;
}

void GrpcActorRpc::RequestWorkerLease(const rpc::NodeInfo& node,
                                      const rpc::RequestWorkerLeaseRequest& request,
                                      LeaseDone done) {
  std::shared_ptr<LoopMailbox> mailbox = mailbox_;
  // No deadline: the raylet may queue the lease until resources free up; a
  // dead raylet fails the call, and a dead node drops its channel.
  Raylet(node).Call(&rpc::RayletService::Stub::async::RequestWorkerLease, request,
                    std::function<void(absl::Status, rpc::RequestWorkerLeaseReply&&)>(
                        [mailbox, done = std::move(done)](absl::Status status,
                                                          rpc::RequestWorkerLeaseReply&& reply) {
                          mailbox->Post([done, status, reply = std::move(reply)]() mutable {
                            done(status, std::move(reply));
                          });
                        }));
}

void GrpcActorRpc::ReturnWorker(const rpc::NodeInfo& node, int64_t lease_id, bool worker_exiting) {
  rpc::ReturnWorkerRequest request;
  request.set_lease_id(lease_id);
  request.set_worker_exiting(worker_exiting);
  SendReturn(node, request, 1);
}

void GrpcActorRpc::SendReturn(const rpc::NodeInfo& node, const rpc::ReturnWorkerRequest& request,
                              int tries) {
  std::shared_ptr<LoopMailbox> mailbox = mailbox_;
  auto on_reply = [this, mailbox, node, request, tries](absl::Status status,
                                                        rpc::ReturnWorkerReply&&) {
    if (status.ok()) return;
    if (!rpc::IsLostMessage(status) || tries >= kReturnTries) {
      LOG(WARNING) << "node " << IdHex(node.node_id()) << ": cannot return actor lease "
                   << request.lease_id() << ": " << status;
      return;
    }
    // Returns are idempotent: repeat a lost one. `this` lives while the
    // mailbox is open (the GCS closes it before destroying us).
    mailbox->Post([this, node, request, tries] { SendReturn(node, request, tries + 1); });
  };
  Raylet(node).Call(&rpc::RayletService::Stub::async::ReturnWorker, request,
                    std::function<void(absl::Status, rpc::ReturnWorkerReply&&)>(on_reply),
                    kReturnTimeoutMs);
}

void GrpcActorRpc::PushCreationTask(const rpc::Address& worker, const rpc::TaskSpec& spec,
                                    PushDone done) {
  rpc::PushTasksRequest request;
  *request.mutable_caller() = caller_;
  *request.add_tasks()->mutable_spec() = spec;
  const int64_t push = next_push_++;
  auto client =
      std::make_unique<WorkerClient>(worker.ip() + ":" + std::to_string(worker.port()), token_);
  WorkerClient& ref = *client;
  pushes_.emplace(push, std::move(client));
  std::shared_ptr<LoopMailbox> mailbox = mailbox_;
  // No deadline: the factory may run long; a dead worker breaks the call.
  ref.Call(&rpc::CoreWorkerService::Stub::async::PushTasks, request,
           std::function<void(absl::Status, rpc::PushTasksReply&&)>(
               [this, mailbox, push, done = std::move(done)](absl::Status status,
                                                             rpc::PushTasksReply&& reply) {
                 mailbox->Post([this, push, done, status, reply = std::move(reply)]() mutable {
                   pushes_.erase(push);
                   done(status, std::move(reply));
                 });
               }));
}

}  // namespace lumen::gcs
