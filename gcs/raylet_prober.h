// gcs/raylet_prober.h
//
// RayletProber is the real HealthProber: it calls RayletService.HealthCheck
// at the node's ip:raylet_port with the cluster token, keeping one channel
// per node until the node is forgotten.
// Threading: Probe/Forget on the GCS loop; answers arrive on gRPC threads
// and are handed to the loop through `mailbox` (dropped once it is closed,
// so in-flight probes cannot outlive the GCS).
// Failure: unreachable, refusing or slow raylets complete `done` with the
// gRPC error (UNAVAILABLE, DEADLINE_EXCEEDED, ...).
#pragma once

#include <memory>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "common/rpc/client.h"
#include "gcs/health_checker.h"
#include "gcs/loop_mailbox.h"
#include "proto/raylet.grpc.pb.h"

namespace lumen::gcs {

class RayletProber : public HealthProber {
 public:
  RayletProber(std::string token, std::shared_ptr<LoopMailbox> mailbox)
      : token_(std::move(token)), mailbox_(std::move(mailbox)) {}

  void Probe(const rpc::NodeInfo& node, int64_t timeout_ms,
             std::function<void(absl::Status)> done) override;
  void Forget(const std::string& node_id) override { clients_.erase(node_id); }

 private:
  using Client = rpc::RpcClient<rpc::RayletService>;

  std::string token_;
  std::shared_ptr<LoopMailbox> mailbox_;
  absl::flat_hash_map<std::string, std::unique_ptr<Client>> clients_;  // By node id.
};

}  // namespace lumen::gcs
