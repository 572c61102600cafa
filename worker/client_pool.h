// worker/client_pool.h
//
// Cached gRPC clients to other core workers (leased workers, owners of
// borrowed objects, the driver), keyed by "ip:port". Replies are delivered
// on gRPC's threads: callers hop to their loop where they need to.
// Threading: thread-safe.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>

#include "common/event_loop.h"
#include "common/rpc/client.h"
#include "proto/worker.grpc.pb.h"

namespace lumen::worker {

using CoreWorkerClient = rpc::RpcClient<rpc::CoreWorkerService>;

class ClientPool {
 public:
  explicit ClientPool(std::string token) : token_(std::move(token)) {}

  std::shared_ptr<CoreWorkerClient> Get(const rpc::Address& address) {
    std::string key = address.ip() + ":" + std::to_string(address.port());
    std::lock_guard<std::mutex> lock(mu_);
    auto& client = clients_[key];
    if (!client) client = std::make_shared<CoreWorkerClient>(key, token_);
    return client;
  }
  void Forget(const rpc::Address& address) {
    std::lock_guard<std::mutex> lock(mu_);
    clients_.erase(address.ip() + ":" + std::to_string(address.port()));
  }

 private:
  std::string token_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<CoreWorkerClient>> clients_;
};

}  // namespace lumen::worker
