#include "worker/worker_metrics.h"

#include <cstdlib>
#include <cstring>

#include "common/logging.h"

namespace lumen::worker {

ProcessMetricsState& ProcessMetrics() {
  // Never destroyed: user metrics may be static objects that outlive main.
  static ProcessMetricsState* state = new ProcessMetricsState();
  return *state;
}

metrics::Cell* CappedCell(metrics::Family& family, const metrics::Labels& labels) {
  if (metrics::Cell* cell = family.Find(labels)) return cell;
  ProcessMetricsState& state = ProcessMetrics();
  if (state.series.fetch_add(1) >= kMaxSeriesPerProcess) {
    state.series.fetch_sub(1);
    state.dropped.fetch_add(1);
    return nullptr;
  }
  return &family.Get(labels);
}

bool TaskMetricsEnabled() {
  static const bool enabled = [] {
    const char* value = std::getenv("LUMEN_TASK_METRICS");
    return value == nullptr || std::strcmp(value, "0") != 0;
  }();
  return enabled;
}

TaskMetrics::TaskMetrics(ProcessMetricsState& state)
    : family_(state.registry.Add("ray_tasks",
                                 "Tasks and actor calls run, by function Name and State.",
                                 metrics::MetricType::kSum)) {}

TaskMetrics::Cells& TaskMetrics::CellsOf(std::string_view name) {
  auto it = by_name_.find(absl::string_view(name.data(), name.size()));
  if (it == by_name_.end()) {
    Cells cells;
    if (family_) {
      cells.pending = CappedCell(*family_, {{"Name", std::string(name)}, {"State", "PENDING"}});
      cells.finished = CappedCell(*family_, {{"Name", std::string(name)}, {"State", "FINISHED"}});
      cells.failed = CappedCell(*family_, {{"Name", std::string(name)}, {"State", "FAILED"}});
    }
    it = by_name_.emplace(std::string(name), cells).first;
  }
  return it->second;
}

void TaskMetrics::Submitted(std::string_view name) {
  absl::MutexLock lock(&mu_);
  if (metrics::Cell* pending = CellsOf(name).pending) pending->Add(1);
}

void TaskMetrics::Count(std::string_view name, bool failed) {
  absl::MutexLock lock(&mu_);
  Cells& cells = CellsOf(name);
  if (cells.pending) cells.pending->Add(-1);
  metrics::Cell* cell = failed ? cells.failed : cells.finished;
  if (cell) cell->Add(1);
}

MetricsReporter::MetricsReporter(RayletClient& raylet, std::string worker_id,
                                 std::chrono::milliseconds period, ProcessMetricsState& state)
    : raylet_(raylet), worker_id_(std::move(worker_id)), period_(period), state_(state) {}

void MetricsReporter::Start() { thread_ = std::thread([this] { Loop(); }); }

void MetricsReporter::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void MetricsReporter::Loop() {
  while (true) {
    bool last;
    {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait_for(lock, period_, [this] { return stopping_; });
      last = stopping_;
    }
    if (!disabled_ && !SendOnce(last ? 1000 : 5000)) disabled_ = true;
    if (last) return;
  }
}

bool MetricsReporter::SendOnce(int64_t timeout_ms) {
  rpc::ReportMetricsRequest request = Diff();
  if (request.samples_size() == 0 && request.dropped_series() == 0) return true;
  auto reply = raylet_.CallSync(&rpc::RayletService::Stub::ReportMetrics, request, timeout_ms);
  if (reply.ok()) {
    Accept();
    return true;
  }
  if (absl::IsUnimplemented(reply.status())) {
    LOG(INFO) << "the raylet exports no metrics; this process stops reporting them";
    return false;
  }
  return true;  // Sent again, with what changed since, next time.
}

rpc::ReportMetricsRequest MetricsReporter::Diff() {
  rpc::ReportMetricsRequest request;
  request.set_worker_id(worker_id_);
  pending_.clear();
  for (const metrics::Family* family : state_.registry.Families()) {
    const metrics::MetricType type = family->type();
    family->ForEach([&](const std::string& labels, const metrics::Cell& cell) {
      std::string key = family->name() + '\0' + labels;
      Sent now{cell.value(), cell.bucket_counts()};
      auto last = sent_.find(key);
      Sent before = last == sent_.end() ? Sent{} : last->second;
      before.buckets.resize(now.buckets.size());
      // Unchanged; a counter, sum or histogram never touched is not news either.
      if (now.value == before.value && now.buckets == before.buckets &&
          (last != sent_.end() || type != metrics::MetricType::kGauge)) {
        return;
      }
      rpc::MetricSample* sample = request.add_samples();
      sample->set_name(family->name());
      sample->set_description(family->help());
      for (const auto& [k, v] : cell.labels()) (*sample->mutable_tags())[k] = v;
      switch (type) {
        case metrics::MetricType::kGauge:
          sample->set_type(rpc::MetricSample::GAUGE);
          sample->set_value(now.value);
          break;
        case metrics::MetricType::kCounter:
        case metrics::MetricType::kSum:
          sample->set_type(type == metrics::MetricType::kSum ? rpc::MetricSample::SUM
                                                             : rpc::MetricSample::COUNTER);
          sample->set_value(now.value - before.value);
          break;
        case metrics::MetricType::kHistogram:
          sample->set_type(rpc::MetricSample::HISTOGRAM);
          sample->set_value(now.value - before.value);
          for (double b : family->boundaries()) sample->add_boundaries(b);
          for (size_t i = 0; i < now.buckets.size(); ++i) {
            sample->add_bucket_counts(now.buckets[i] - before.buckets[i]);
          }
          break;
      }
      pending_[key] = std::move(now);
    });
  }
  dropped_pending_ = state_.dropped.load();
  request.set_dropped_series(dropped_pending_ - dropped_sent_);
  return request;
}

void MetricsReporter::Accept() {
  for (auto& [key, value] : pending_) sent_[key] = std::move(value);
  pending_.clear();
  dropped_sent_ = dropped_pending_;
}

}  // namespace lumen::worker
