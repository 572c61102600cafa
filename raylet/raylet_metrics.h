// raylet/raylet_metrics.h
//
// The raylet's Prometheus metrics (names in docs/metrics.md).
//
// AddRayletCollector registers gauges read from the node's state at each
// scrape: resources used/available per resource, the worker pool
// (starting, idle, busy), leases granted and queued, the object store (used,
// capacity, objects, spilled bytes and objects), and object transfers
// (bytes sent and received, objects pulled, failed pulls and sources, pulls
// in flight; from `transfers`, kept by the puller and senders). Every series carries
// node_address and node_id labels. Threading: it reads loop-owned state, so the registry must
// be rendered on the raylet loop (the exporter runs there).
//
// WorkerMetricsSink merges the ReportMetrics batches of the node's workers
// and drivers (task counts by function and state, user metrics) into the
// same registry. Counters, sums and histograms arrive as increases and are
// added up; gauges are set. Bounds: at most kMaxSamplesPerReport samples
// per batch and kMaxWorkerSeries series from all workers together; what is
// refused (over a bound, a name the raylet exports itself, a name reported
// with another type or other histogram boundaries) is counted in
// ray_metrics_dropped_samples_total, with the series workers dropped on
// their side. Threading: any thread (the registry locks).
#pragma once

#include <atomic>
#include <string>

#include "common/metrics.h"
#include "proto/raylet.pb.h"
#include "raylet/lease_manager.h"
#include "raylet/node_manager.h"
#include "raylet/transfer_counters.h"
#include "raylet/worker_pool.h"

namespace lumen::raylet {

struct NodeLabels {
  std::string node_ip;
  std::string node_id_hex;
};

// The collaborators must outlive the registry's renders.
void AddRayletCollector(metrics::Registry& registry, const NodeLabels& node,
                        const NodeManager& node_manager, const LeaseManager& leases,
                        const WorkerPool& pool, const TransferCounters& transfers);

inline constexpr int kMaxSamplesPerReport = 2000;
inline constexpr size_t kMaxWorkerSeries = 10000;

class WorkerMetricsSink {
 public:
  explicit WorkerMetricsSink(metrics::Registry& registry);
  rpc::ReportMetricsReply Merge(const rpc::ReportMetricsRequest& request);

 private:
  // The family for `sample`, created on first use; null when refused.
  metrics::Family* FamilyOf(const rpc::MetricSample& sample);

  metrics::Registry& registry_;
  metrics::Cell& dropped_;
  absl::Mutex mu_;
  // Families created from worker reports, and their series count.
  absl::flat_hash_map<std::string, metrics::Family*> families_ ABSL_GUARDED_BY(mu_);
  std::atomic<size_t> series_{0};
};

}  // namespace lumen::raylet
