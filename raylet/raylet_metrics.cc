#include "raylet/raylet_metrics.h"

#include <algorithm>
#include <vector>

namespace lumen::raylet {

void AddRayletCollector(metrics::Registry& registry, const NodeLabels& node,
                        const NodeManager& node_manager, const LeaseManager& leases,
                        const WorkerPool& pool, const TransferCounters& transfers) {
  using metrics::Labels;
  auto* resources = registry.Gauge(
      "ray_resources", "Resources of this node by Name and State (USED: leased out, AVAILABLE).");
  auto* workers = registry.Gauge("ray_worker_pool_workers",
                                 "Worker processes of this node by State (STARTING, IDLE, BUSY).");
  // Counters kept by the pool, copied at each scrape (they only grow).
  auto* started = registry.Counter("ray_worker_pool_started",
                                   "Worker processes this node started since its raylet began.");
  auto* start_failures = registry.Counter(
      "ray_worker_pool_start_failures", "Worker process starts that failed on this node.");
  auto* leased = registry.Gauge("ray_leases_granted", "Worker leases currently granted.");
  auto* queued = registry.Gauge("ray_leases_queued", "Worker lease requests waiting (with infeasible ones).");
  auto* store_used = registry.Gauge("ray_object_store_memory_used_bytes", "Bytes in use in this node's object store.");
  auto* store_capacity = registry.Gauge("ray_object_store_memory_capacity_bytes", "Size of this node's object store.");
  auto* store_objects = registry.Gauge("ray_object_store_num_objects", "Objects in this node's object store.");
  auto* spilled_bytes = registry.Gauge("ray_object_store_spilled_bytes", "Bytes of objects spilled to disk.");
  auto* spilled_objects = registry.Gauge("ray_object_store_spilled_objects", "Objects spilled to disk.");
  // Transfers, with Ray's names (ray_object_manager_bytes is a gauge there too).
  auto* transfer_bytes = registry.Gauge(
      "ray_object_manager_bytes",
      "Object bytes sent to other nodes (Type=PushedFromLocalPlasma) and received from them (Type=Received).");
  auto* pulls_in_flight = registry.Gauge("ray_object_manager_num_pull_requests", "Pulls of objects under way.");
  auto* pulled = registry.Counter("ray_object_manager_pulled_objects", "Objects pulled from other nodes.");
  auto* pull_failures = registry.Counter(
      "ray_pull_manager_failures",
      "Pull failures by Type: Source (a source failed, the pull went on to the next or failed), "
      "Pull (every source failed).");
  registry.AddCollector([=, &node_manager, &leases, &pool, &transfers] {
    const Labels base = {{"node_address", node.node_ip}, {"node_id", node.node_id_hex}};
    auto with = [&](const std::string& key, const std::string& value) {
      Labels labels = base;
      labels.emplace_back(key, value);
      return labels;
    };
    auto with2 = [&](const std::string& name, const std::string& state) {
      Labels labels = with("Name", name);
      labels.emplace_back("State", state);
      return labels;
    };
    rpc::GetNodeStatsReply stats;
    node_manager.GetNodeStats(&stats);
    // Resource names come and go (custom resources): rebuilt each time.
    resources->Clear();
    for (const auto& [name, amount] : stats.view().total()) {
      auto available = stats.view().available().find(name);
      double free = available == stats.view().available().end() ? 0 : available->second;
      resources->Get(with2(name, "USED")).Set(std::max(0.0, amount - free));
      resources->Get(with2(name, "AVAILABLE")).Set(std::min(amount, free));
    }
    const int starting = pool.NumStarting();
    const int idle = pool.NumIdle();
    workers->Get(with("State", "STARTING")).Set(starting);
    workers->Get(with("State", "IDLE")).Set(idle);
    workers->Get(with("State", "BUSY")).Set(std::max(0, pool.NumWorkers() - idle - starting));
    started->Get(base).Set(static_cast<double>(pool.NumStarted()));
    start_failures->Get(base).Set(static_cast<double>(pool.NumStartFailures()));
    leased->Get(base).Set(leases.NumLeases());
    queued->Get(base).Set(leases.NumPending());
    if (stats.has_object_store()) {
      store_used->Get(base).Set(static_cast<double>(stats.object_store_used()));
      store_capacity->Get(base).Set(static_cast<double>(stats.object_store_capacity()));
      store_objects->Get(base).Set(static_cast<double>(stats.object_store_objects()));
      spilled_bytes->Get(base).Set(static_cast<double>(stats.spilled_bytes()));
      spilled_objects->Get(base).Set(static_cast<double>(stats.spilled_objects()));
    }
    auto read = [](const auto& counter) { return static_cast<double>(counter.load(std::memory_order_relaxed)); };
    transfer_bytes->Get(with("Type", "PushedFromLocalPlasma")).Set(read(transfers.bytes_sent));
    transfer_bytes->Get(with("Type", "Received")).Set(read(transfers.bytes_received));
    pulls_in_flight->Get(base).Set(read(transfers.pulls_in_flight));
    pulled->Get(base).Set(read(transfers.objects_pulled));
    pull_failures->Get(with("Type", "Source")).Set(read(transfers.source_failures));
    pull_failures->Get(with("Type", "Pull")).Set(read(transfers.pulls_failed));
  });
}

WorkerMetricsSink::WorkerMetricsSink(metrics::Registry& registry)
    : registry_(registry),
      dropped_(registry
                   .Counter("ray_metrics_dropped_samples",
                            "Metric samples from workers refused by the raylet or dropped by "
                            "workers over their series cap.")
                   ->Get()) {}

namespace {

metrics::MetricType TypeOf(const rpc::MetricSample& sample) {
  switch (sample.type()) {
    case rpc::MetricSample::COUNTER:
      return metrics::MetricType::kCounter;
    case rpc::MetricSample::SUM:
      return metrics::MetricType::kSum;
    case rpc::MetricSample::HISTOGRAM:
      return metrics::MetricType::kHistogram;
    default:
      return metrics::MetricType::kGauge;
  }
}

}  // namespace

metrics::Family* WorkerMetricsSink::FamilyOf(const rpc::MetricSample& sample) {
  const std::string name = metrics::SanitizeName(sample.name());
  absl::MutexLock lock(&mu_);
  if (auto it = families_.find(name); it != families_.end()) return it->second;
  // A name the raylet exports itself is not a worker's to set.
  if (registry_.Find(name) != nullptr) return nullptr;
  std::vector<double> bounds(sample.boundaries().begin(), sample.boundaries().end());
  metrics::Family* family =
      registry_.Add(name, sample.description(), TypeOf(sample), std::move(bounds));
  if (family) families_[name] = family;
  return family;
}

rpc::ReportMetricsReply WorkerMetricsSink::Merge(const rpc::ReportMetricsRequest& request) {
  uint64_t dropped = 0;
  int seen = 0;
  for (const rpc::MetricSample& sample : request.samples()) {
    if (++seen > kMaxSamplesPerReport) {
      ++dropped;
      continue;
    }
    metrics::Family* family = FamilyOf(sample);
    const bool histogram = sample.type() == rpc::MetricSample::HISTOGRAM;
    if (!family || family->type() != TypeOf(sample) ||
        (histogram && !std::equal(family->boundaries().begin(), family->boundaries().end(),
                                  sample.boundaries().begin(), sample.boundaries().end()))) {
      ++dropped;
      continue;
    }
    metrics::Labels labels(sample.tags().begin(), sample.tags().end());
    const size_t before = family->size();
    if (series_.load() >= kMaxWorkerSeries && family->Find(labels) == nullptr) {
      ++dropped;  // Full: only series that exist already are updated.
      continue;
    }
    metrics::Cell& cell = family->Get(labels);
    if (family->size() > before) series_.fetch_add(1);
    switch (sample.type()) {
      case rpc::MetricSample::GAUGE:
        cell.Set(sample.value());
        break;
      case rpc::MetricSample::HISTOGRAM:
        cell.AddBuckets({sample.bucket_counts().begin(), sample.bucket_counts().end()},
                        sample.value());
        break;
      default:
        cell.Add(sample.value());
    }
  }
  dropped_.Add(static_cast<double>(dropped + request.dropped_series()));
  rpc::ReportMetricsReply reply;
  reply.set_dropped_samples(dropped);
  return reply;
}

}  // namespace lumen::raylet
