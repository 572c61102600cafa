// gcs/bundle_rpc.h
//
// BundleRpc is the placement group manager's seam to the raylets: the
// three bundle calls of RayletService (PrepareBundleResources,
// CommitBundleResources, CancelResourceReserve). GrpcBundleRpc is the real
// one (one raylet channel per node, with the cluster token); tests use a
// hand-written fake. Threading: called on the GCS loop; every `done` runs
// later on the loop (through the LoopMailbox), never inline.
// Failure: transport and server errors arrive as the callback's status.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/rpc/client.h"
#include "gcs/loop_mailbox.h"
#include "proto/raylet.grpc.pb.h"

namespace lumen::gcs {

class BundleRpc {
 public:
  // Prepare: `prepared` is false when the node refused (does not fit now).
  using PrepareDone = std::function<void(absl::Status, bool prepared)>;
  using Done = std::function<void(absl::Status)>;

  virtual ~BundleRpc() = default;
  virtual void Prepare(const rpc::NodeInfo& node, const rpc::BundleRequest& request,
                       PrepareDone done) = 0;
  virtual void Commit(const rpc::NodeInfo& node, const rpc::BundleRequest& request, Done done) = 0;
  virtual void Cancel(const rpc::NodeInfo& node, const rpc::BundleRequest& request, Done done) = 0;
};

class GrpcBundleRpc : public BundleRpc {
 public:
  GrpcBundleRpc(std::string token, std::shared_ptr<LoopMailbox> mailbox)
      : token_(std::move(token)), mailbox_(std::move(mailbox)) {}

  void Prepare(const rpc::NodeInfo& node, const rpc::BundleRequest& request,
               PrepareDone done) override;
  void Commit(const rpc::NodeInfo& node, const rpc::BundleRequest& request, Done done) override;
  void Cancel(const rpc::NodeInfo& node, const rpc::BundleRequest& request, Done done) override;

 private:
  using RayletClient = rpc::RpcClient<rpc::RayletService>;
  RayletClient& Raylet(const rpc::NodeInfo& node);
  template <typename Reply>
  using Method = void (rpc::RayletService::Stub::async::*)(grpc::ClientContext*,
                                                          const rpc::BundleRequest*, Reply*,
                                                          std::function<void(grpc::Status)>);
  template <typename Reply>
  void Send(const rpc::NodeInfo& node, Method<Reply> method, const rpc::BundleRequest& request,
            std::function<void(absl::Status, const Reply&)> answer);

  std::string token_;
  std::shared_ptr<LoopMailbox> mailbox_;
  absl::flat_hash_map<std::string, std::unique_ptr<RayletClient>> raylets_;  // By node id.
};

}  // namespace lumen::gcs
