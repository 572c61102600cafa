// worker/client_pool.h
//
// Cached gRPC clients to other core workers (leased workers, owners of
// borrowed objects, the driver), keyed by "ip:port", and the task channels
// opened to leased workers. Replies are delivered
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
#include "worker/task_channel.h"

namespace lumen::worker {

using CoreWorkerClient = rpc::RpcClient<rpc::CoreWorkerService>;

class ClientPool {
 public:
  explicit ClientPool(std::string token) : token_(std::move(token)) {}

  std::shared_ptr<CoreWorkerClient> Get(const rpc::Address& address) {
    std::string key = Key(address);
    std::lock_guard<std::mutex> lock(mu_);
    auto& client = clients_[key];
    if (!client) client = std::make_shared<CoreWorkerClient>(key, token_);
    return client;
  }
  std::shared_ptr<TaskChannelClient> GetChannel(const rpc::Address& address) {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = channels_.find(Key(address));
    return it == channels_.end() ? nullptr : it->second;
  }
  void SetChannel(const rpc::Address& address, std::shared_ptr<TaskChannelClient> channel) {
    std::lock_guard<std::mutex> lock(mu_);
    channels_[Key(address)] = std::move(channel);
  }
  void Forget(const rpc::Address& address) {
    // Destroyed after unlocking: a client's destructor waits for its calls'
    // callbacks, which may themselves take mu_ (SetChannel).
    std::shared_ptr<CoreWorkerClient> client;
    std::shared_ptr<TaskChannelClient> channel;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (auto it = clients_.find(Key(address)); it != clients_.end()) {
        client = std::move(it->second);
        clients_.erase(it);
      }
      if (auto it = channels_.find(Key(address)); it != channels_.end()) {
        channel = std::move(it->second);
        channels_.erase(it);
      }
    }
  }
  // Drops every cached gRPC client: each one's destructor cancels its calls
  // and waits for their callbacks (those held elsewhere go when released).
  void ClearClients() {
    std::unordered_map<std::string, std::shared_ptr<CoreWorkerClient>> clients;
    {
      std::lock_guard<std::mutex> lock(mu_);
      clients.swap(clients_);
    }
  }
  // Closes every task channel (joining their readers) and forgets them.
  void CloseChannels() {
    std::unordered_map<std::string, std::shared_ptr<TaskChannelClient>> channels;
    {
      std::lock_guard<std::mutex> lock(mu_);
      channels.swap(channels_);
    }
    for (auto& [key, channel] : channels) channel->Close();
  }
  const std::string& token() const { return token_; }

 private:
  static std::string Key(const rpc::Address& a) { return a.ip() + ":" + std::to_string(a.port()); }

  std::string token_;
  std::mutex mu_;
  std::unordered_map<std::string, std::shared_ptr<CoreWorkerClient>> clients_;
  std::unordered_map<std::string, std::shared_ptr<TaskChannelClient>> channels_;
};

}  // namespace lumen::worker
