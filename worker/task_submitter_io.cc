#include "worker/task_submitter_io.h"

#include "common/rpc/grpc_status.h"

namespace lumen::worker {
namespace {

constexpr int64_t kGetTaskPortTimeoutMs = 10000;

class ChannelConnection : public TaskPusher::Connection {
 public:
  explicit ChannelConnection(std::shared_ptr<TaskChannelClient> channel)
      : channel_(std::move(channel)) {}
  void Push(const rpc::PushTasksRequest& request, TaskPusher::PushCallback callback) override {
    channel_->Push(request, std::move(callback));
  }

 private:
  std::shared_ptr<TaskChannelClient> channel_;
};

class GrpcConnection : public TaskPusher::Connection {
 public:
  explicit GrpcConnection(std::shared_ptr<CoreWorkerClient> client) : client_(std::move(client)) {}
  void Push(const rpc::PushTasksRequest& request, TaskPusher::PushCallback callback) override {
    client_->Call(&rpc::CoreWorkerService::Stub::async::PushTasks, request,
                  std::function<void(absl::Status, rpc::PushTasksReply&&)>(std::move(callback)));
  }

 private:
  std::shared_ptr<CoreWorkerClient> client_;
};

}  // namespace

RayletClient& RayletLeaseClient::ClientFor(const std::string& raylet) {
  if (raylet.empty() || raylet == raylet_.address()) return raylet_;
  absl::MutexLock lock(&mu_);
  std::unique_ptr<RayletClient>& client = remote_[raylet];
  if (!client) client = std::make_unique<RayletClient>(raylet, token_, loop_);
  return *client;
}

void RayletLeaseClient::RequestWorkerLease(const std::string& raylet,
                                           const rpc::RequestWorkerLeaseRequest& request,
                                           LeaseCallback callback) {
  RayletClient& client = ClientFor(raylet);
  // A failed call names the raylet, so the task's error says which one.
  client.Call(&rpc::RayletService::Stub::async::RequestWorkerLease, request,
               std::function<void(absl::Status, rpc::RequestWorkerLeaseReply&&)>(
                   [address = client.address(), callback = std::move(callback)](
                       absl::Status status, rpc::RequestWorkerLeaseReply&& reply) {
                     if (!status.ok() && status.code() != absl::StatusCode::kInvalidArgument) {
                       status = absl::Status(status.code(), "raylet at " + address + ": " +
                                                                std::string(status.message()));
                     }
                     callback(status, std::move(reply));
                   }));
}

void RayletLeaseClient::ReturnWorker(const std::string& raylet,
                                     const rpc::ReturnWorkerRequest& request) {
  SendReturn(ClientFor(raylet), request, 1);
}

// A lost return would leave the worker and its resources leased for good;
// returns are idempotent (a repeat of a done one is NOT_FOUND), so a failed
// one is sent again at once, up to 16 times (at 10% loss each way, a
// return is then lost once in 10^11).
// (The RpcClient drops callbacks once it is destroyed, so `raylet` is alive
// whenever this one runs.)
void RayletLeaseClient::SendReturn(RayletClient& raylet, const rpc::ReturnWorkerRequest& request,
                                   int attempt) {
  constexpr int kAttempts = 16;
  raylet.Call(&rpc::RayletService::Stub::async::ReturnWorker, request,
              std::function<void(absl::Status, rpc::ReturnWorkerReply&&)>(
                  [&raylet, request, attempt](absl::Status status, rpc::ReturnWorkerReply&&) {
                    if (rpc::IsLostMessage(status) && attempt < kAttempts) SendReturn(raylet, request, attempt + 1);
                  }));
}

void PooledTaskPusher::Connect(const rpc::Address& worker, ConnectCallback callback) {
  if (auto channel = pool_.GetChannel(worker)) {
    callback(std::make_shared<ChannelConnection>(std::move(channel)));
    return;
  }
  std::shared_ptr<CoreWorkerClient> client = pool_.Get(worker);
  ClientPool* pool = &pool_;
  // Weak: the call must not keep its client (and so its own callback)
  // alive past the pool, whose destruction cancels it.
  std::weak_ptr<CoreWorkerClient> weak_client = client;
  client->Call(
      &rpc::CoreWorkerService::Stub::async::GetTaskPort, rpc::GetTaskPortRequest(),
      std::function<void(absl::Status, rpc::GetTaskPortReply&&)>(
          [pool, worker, weak_client, callback = std::move(callback)](
              absl::Status status, rpc::GetTaskPortReply&& reply) {
            // On a gRPC thread: connecting blocks only for a loopback/LAN handshake.
            if (status.ok() && reply.port() > 0) {
              auto channel = TaskChannelClient::Connect(worker.ip(), reply.port(), pool->token());
              if (channel.ok()) {
                pool->SetChannel(worker, *channel);
                callback(std::make_shared<ChannelConnection>(std::move(*channel)));
                return;
              }
            }
            if (auto client = weak_client.lock()) callback(std::make_shared<GrpcConnection>(client));
          }),
      kGetTaskPortTimeoutMs);
}

}  // namespace lumen::worker
