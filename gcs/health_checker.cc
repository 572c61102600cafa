#include "gcs/health_checker.h"

#include <algorithm>

#include "common/logging.h"
#include "gcs/node_manager.h"

namespace lumen::gcs {

void HealthChecker::OnNodeChange(const rpc::NodeInfo& node) {
  const std::string& id = node.node_id();
  if (node.state() == rpc::NodeInfo::ALIVE) {
    nodes_[id] = node;
    policy_.AddNode(id, clock_.MonotonicMs());
    return;
  }
  nodes_.erase(id);
  policy_.RemoveNode(id);
  prober_.Forget(id);
}

int64_t HealthChecker::tick_interval_ms() const {
  const auto& o = policy_.options();
  return std::max<int64_t>(10, std::min(o.period_ms, o.timeout_ms) / 4);
}

void HealthChecker::Tick() {
  int64_t now = clock_.MonotonicMs();
  for (const auto& node_id : policy_.ExpireProbes(now)) DeclareDead(node_id);
  for (const auto& probe : policy_.TakeDueProbes(now)) {
    auto it = nodes_.find(probe.node_id);
    if (it == nodes_.end()) continue;
    std::string node_id = probe.node_id;
    uint64_t probe_id = probe.probe_id;
    prober_.Probe(
        it->second, policy_.options().timeout_ms,
        [this, node_id, probe_id](absl::Status status) { OnProbeDone(node_id, probe_id, status); });
  }
}

void HealthChecker::OnProbeDone(const std::string& node_id, uint64_t probe_id,
                                const absl::Status& status) {
  if (!status.ok()) {
    VLOG(1) << "health check of node " << IdHex(node_id) << " failed: " << status;
  }
  if (policy_.OnProbeResult(node_id, probe_id, status.ok(), clock_.MonotonicMs())) {
    DeclareDead(node_id);
  }
}

void HealthChecker::DeclareDead(const std::string& node_id) {
  const rpc::NodeInfo& node = nodes_[node_id];
  LOG(WARNING) << "node " << IdHex(node_id) << " failed " << policy_.options().failure_threshold
               << " health checks in a row at " << node.ip() << ":" << node.raylet_port()
               << ", the address its raylet advertises; if that raylet still runs, the GCS cannot "
                  "reach it there (check the node's --node-ip-address, firewalls and routes)";
  nodes_.erase(node_id);
  prober_.Forget(node_id);
  on_dead_(node_id);
}

}  // namespace lumen::gcs
