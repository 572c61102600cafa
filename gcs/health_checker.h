// gcs/health_checker.h
//
// HealthChecker probes every alive node through a HealthProber and reports
// the nodes that HealthCheckPolicy declares dead. It follows the node table
// through OnNodeChange (alive nodes are probed, dead ones forgotten),
// including nodes loaded as ALIVE after a GCS restart.
// Tick() does the work: the GCS calls it every tick_interval_ms(); tests
// call it by hand with a FakeClock and a fake prober.
// Threading: the GCS loop only; the prober must call back on the loop.
// Failure: a node whose probes keep failing is reported via `on_dead` once.
#pragma once

#include <functional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "gcs/health_check_policy.h"
#include "proto/common.pb.h"

namespace lumen::gcs {

// Sends one health check to a node. Seam for tests (see FakeProber in
// health_checker_test.cc); RayletProber is the real one.
class HealthProber {
 public:
  virtual ~HealthProber() = default;
  // Probes `node` with a deadline of `timeout_ms`; `done` runs once on the
  // GCS loop with the outcome.
  virtual void Probe(const rpc::NodeInfo& node, int64_t timeout_ms,
                     std::function<void(absl::Status)> done) = 0;
  // Drops any connection kept for `node_id`.
  virtual void Forget(const std::string& node_id) = 0;
};

class HealthChecker {
 public:
  using DeathCallback = std::function<void(const std::string& node_id)>;

  // `prober` and `clock` are not owned and must outlive the checker.
  HealthChecker(HealthProber& prober, const Clock& clock, HealthCheckOptions options,
                DeathCallback on_dead)
      : prober_(prober), clock_(clock), policy_(options), on_dead_(std::move(on_dead)) {}

  // Follows the node table: alive nodes are (re)tracked, dead ones dropped.
  void OnNodeChange(const rpc::NodeInfo& node);
  // Expires overdue probes and sends the due ones.
  void Tick();
  // How often Tick() should run: often enough to honour period and timeout.
  int64_t tick_interval_ms() const;

  const HealthCheckPolicy& policy() const { return policy_; }

 private:
  void OnProbeDone(const std::string& node_id, uint64_t probe_id, const absl::Status& status);
  void DeclareDead(const std::string& node_id);

  HealthProber& prober_;
  const Clock& clock_;
  HealthCheckPolicy policy_;
  DeathCallback on_dead_;
  absl::flat_hash_map<std::string, rpc::NodeInfo> nodes_;  // Tracked alive nodes.
};

}  // namespace lumen::gcs
