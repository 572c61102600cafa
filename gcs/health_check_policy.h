// gcs/health_check_policy.h
//
// HealthCheckPolicy decides when to probe each alive node and when a node
// is dead: it is pure bookkeeping of times and answers, with no I/O and no
// clock of its own (callers pass `now_ms`, a monotonic time), so it is
// tested table-driven.
//
// Rules: a node is probed every `period_ms` (measured from the previous
// probe's start; never two probes at once). A probe fails when it answers
// with an error, answers later than `timeout_ms`, or has not answered
// `timeout_ms` after it was sent. A success resets the count. After
// `failure_threshold` consecutive failures the node is dead and no longer
// tracked. With the defaults (1 s, 1 s, 3) an unreachable node is declared
// dead within about 3 s; a busy node that answers within the timeout never is.
// Threading: not thread-safe; the GCS loop owns it.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace lumen::gcs {

struct HealthCheckOptions {
  int64_t period_ms = 1000;
  int64_t timeout_ms = 1000;
  int failure_threshold = 3;
};

class HealthCheckPolicy {
 public:
  struct Probe {
    std::string node_id;
    uint64_t probe_id;  // Pass back to OnProbeResult.
  };

  explicit HealthCheckPolicy(HealthCheckOptions options) : options_(options) {}

  // Starts tracking `node_id` (or restarts it, forgetting failures); its
  // first probe is due at `now_ms`.
  void AddNode(const std::string& node_id, int64_t now_ms);
  void RemoveNode(const std::string& node_id) { nodes_.erase(node_id); }
  bool Tracks(const std::string& node_id) const { return nodes_.contains(node_id); }
  int ConsecutiveFailures(const std::string& node_id) const;

  // The probes to send at `now_ms`; they are in flight from now on.
  std::vector<Probe> TakeDueProbes(int64_t now_ms);
  // Records the answer to a probe. Returns true when the node is now dead.
  // Answers to probes already expired or of untracked nodes are ignored.
  bool OnProbeResult(const std::string& node_id, uint64_t probe_id, bool ok, int64_t now_ms);
  // Counts probes unanswered for longer than the timeout as failures.
  // Returns the nodes that are now dead.
  std::vector<std::string> ExpireProbes(int64_t now_ms);

  const HealthCheckOptions& options() const { return options_; }

 private:
  struct NodeState {
    int failures = 0;
    int64_t next_probe_ms = 0;
    bool in_flight = false;
    uint64_t probe_id = 0;
    int64_t sent_ms = 0;
  };
  // Ends the in-flight probe of `state`; true when the node is now dead.
  bool Finish(NodeState& state, bool ok, int64_t now_ms);

  HealthCheckOptions options_;
  uint64_t next_probe_id_ = 1;
  absl::flat_hash_map<std::string, NodeState> nodes_;
};

}  // namespace lumen::gcs
