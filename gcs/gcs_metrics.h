// gcs/gcs_metrics.h
//
// The GCS's Prometheus metrics (names in docs/metrics.md): gauges read from
// GcsState at each scrape (nodes alive/dead, jobs running/finished, actors
// by state, table sizes), and the health checks that failed, counted by
// CountingProber as they come back. RPC latencies are recorded by the
// CallGate (common/rpc/server.h).
// Threading: the collector reads GcsState, so the registry must be rendered
// on the GCS loop (the exporter runs there). CountingProber forwards to the
// real prober and counts on the GCS loop.
#pragma once

#include "common/metrics.h"
#include "gcs/gcs_state.h"
#include "gcs/health_checker.h"

namespace lumen::gcs {

// Registers the state gauges; `state` must outlive `registry`'s renders.
void AddGcsCollector(metrics::Registry& registry, GcsState& state);

class CountingProber : public HealthProber {
 public:
  // `inner` is not owned and must outlive this prober.
  CountingProber(HealthProber& inner, metrics::Registry& registry);
  void Probe(const rpc::NodeInfo& node, int64_t timeout_ms,
             std::function<void(absl::Status)> done) override;
  void Forget(const std::string& node_id) override { inner_.Forget(node_id); }

 private:
  HealthProber& inner_;
  metrics::Cell& failures_;
};

}  // namespace lumen::gcs
