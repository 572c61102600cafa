#include "gcs/bundle_rpc.h"

namespace lumen::gcs {

namespace {
constexpr int64_t kBundleCallTimeoutMs = 10'000;
}  // namespace

GrpcBundleRpc::RayletClient& GrpcBundleRpc::Raylet(const rpc::NodeInfo& node) {
  std::string address = node.ip() + ":" + std::to_string(node.raylet_port());
  auto& client = raylets_[node.node_id()];
  if (client == nullptr || client->address() != address) {
    client = std::make_unique<RayletClient>(address, token_);
  }
  return *client;
}

// One bundle call; `answer` runs on the loop (through the mailbox).
template <typename Reply>
void GrpcBundleRpc::Send(const rpc::NodeInfo& node, Method<Reply> method,
                         const rpc::BundleRequest& request,
                         std::function<void(absl::Status, const Reply&)> answer) {
  std::shared_ptr<LoopMailbox> mailbox = mailbox_;
  Raylet(node).Call(method, request,
                    std::function<void(absl::Status, Reply&&)>(
                        [mailbox, answer = std::move(answer)](absl::Status status, Reply&& reply) {
                          mailbox->Post([answer, status, reply = std::move(reply)] {
                            answer(status, reply);
                          });
                        }),
                    kBundleCallTimeoutMs);
}

void GrpcBundleRpc::Prepare(const rpc::NodeInfo& node, const rpc::BundleRequest& request,
                            PrepareDone done) {
  Send<rpc::PrepareBundleReply>(
      node, &rpc::RayletService::Stub::async::PrepareBundleResources, request,
      [done](absl::Status status, const rpc::PrepareBundleReply& reply) {
        done(status, reply.success());
      });
}

void GrpcBundleRpc::Commit(const rpc::NodeInfo& node, const rpc::BundleRequest& request,
                           Done done) {
  Send<rpc::CommitBundleReply>(node, &rpc::RayletService::Stub::async::CommitBundleResources,
                               request, [done](absl::Status status, const auto&) { done(status); });
}

void GrpcBundleRpc::Cancel(const rpc::NodeInfo& node, const rpc::BundleRequest& request,
                           Done done) {
  Send<rpc::CancelBundleReply>(node, &rpc::RayletService::Stub::async::CancelResourceReserve,
                               request, [done](absl::Status status, const auto&) { done(status); });
}

}  // namespace lumen::gcs
