#include "gcs/health_check_policy.h"

#include <algorithm>

namespace lumen::gcs {

void HealthCheckPolicy::AddNode(const std::string& node_id, int64_t now_ms) {
  NodeState state;
  state.next_probe_ms = now_ms;
  nodes_[node_id] = state;
}

int HealthCheckPolicy::ConsecutiveFailures(const std::string& node_id) const {
  auto it = nodes_.find(node_id);
  return it == nodes_.end() ? 0 : it->second.failures;
}

std::vector<HealthCheckPolicy::Probe> HealthCheckPolicy::TakeDueProbes(int64_t now_ms) {
  std::vector<Probe> due;
  for (auto& [node_id, state] : nodes_) {
    if (state.in_flight || now_ms < state.next_probe_ms) continue;
    state.in_flight = true;
    state.probe_id = next_probe_id_++;
    state.sent_ms = now_ms;
    due.push_back({node_id, state.probe_id});
  }
  return due;
}

bool HealthCheckPolicy::Finish(NodeState& state, bool ok, int64_t now_ms) {
  state.in_flight = false;
  state.next_probe_ms = std::max(now_ms, state.sent_ms + options_.period_ms);
  bool in_time = now_ms - state.sent_ms <= options_.timeout_ms;
  state.failures = ok && in_time ? 0 : state.failures + 1;
  return state.failures >= options_.failure_threshold;
}

bool HealthCheckPolicy::OnProbeResult(const std::string& node_id, uint64_t probe_id, bool ok,
                                      int64_t now_ms) {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return false;
  NodeState& state = it->second;
  if (!state.in_flight || state.probe_id != probe_id) return false;
  if (!Finish(state, ok, now_ms)) return false;
  nodes_.erase(it);
  return true;
}

std::vector<std::string> HealthCheckPolicy::ExpireProbes(int64_t now_ms) {
  std::vector<std::string> dead;
  for (auto& [node_id, state] : nodes_) {
    if (!state.in_flight || now_ms - state.sent_ms <= options_.timeout_ms) continue;
    if (Finish(state, /*ok=*/false, now_ms)) dead.push_back(node_id);
  }
  for (const auto& node_id : dead) nodes_.erase(node_id);
  return dead;
}

}  // namespace lumen::gcs
