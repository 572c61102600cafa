#include "gcs/raylet_prober.h"

namespace lumen::gcs {

void RayletProber::Probe(const rpc::NodeInfo& node, int64_t timeout_ms,
                         std::function<void(absl::Status)> done) {
  std::string address = node.ip() + ":" + std::to_string(node.raylet_port());
  auto& client = clients_[node.node_id()];
  if (client == nullptr || client->address() != address) {
    // No loop: the answer comes on a gRPC thread and goes through the mailbox.
    client = std::make_unique<Client>(address, token_);
  }
  std::shared_ptr<LoopMailbox> mailbox = mailbox_;
  client->Call(&rpc::RayletService::Stub::async::HealthCheck, rpc::HealthCheckRequest(),
               std::function<void(absl::Status, rpc::HealthCheckReply &&)>(
                   [mailbox, done = std::move(done)](absl::Status status, rpc::HealthCheckReply&&) {
                     mailbox->Post([done, status] { done(status); });
                   }),
               timeout_ms);
}

}  // namespace lumen::gcs
