// Ray's user metrics API (ray/api/metric.h) over the process registry of
// worker/worker_metrics.h.
#include "ray/api/metric.h"

#include "common/logging.h"
#include "worker/worker_metrics.h"

namespace ray {
namespace {

using lumen::metrics::MetricType;

struct MetricState {
  std::string name;
  MetricType type;
  lumen::metrics::Family* family = nullptr;  // Null: the name is taken by another type.
};

void* Create(const std::string& name, const std::string& description, const std::string& unit,
             MetricType type, std::vector<double> boundaries = {}) {
  auto* state = new MetricState{name, type};
  std::string help = description.empty() ? name : description;
  if (!unit.empty()) help += " (" + unit + ")";
  state->family = lumen::worker::ProcessMetrics().registry.Add("ray_" + name, help, type,
                                                              std::move(boundaries));
  if (!state->family) {
    LOG(WARNING) << "metric " << name
                 << " exists with another type or other boundaries: this one records nothing";
  }
  return state;
}

void RecordIn(void* metric, double value, const std::unordered_map<std::string, std::string>& tags) {
  auto* state = static_cast<MetricState*>(metric);
  if (!state || !state->family) return;
  lumen::metrics::Labels labels(tags.begin(), tags.end());
  lumen::metrics::Cell* cell = lumen::worker::CappedCell(*state->family, labels);
  if (!cell) return;
  switch (state->type) {
    case MetricType::kGauge:
      cell->Set(value);
      break;
    case MetricType::kCounter:
      if (value > 0) cell->Add(value);
      break;
    case MetricType::kSum:
      cell->Add(value);
      break;
    case MetricType::kHistogram:
      cell->Observe(value);
      break;
  }
}

}  // namespace

Metric::~Metric() { delete static_cast<MetricState*>(metric_); }

std::string Metric::GetName() const {
  return metric_ ? static_cast<MetricState*>(metric_)->name : std::string();
}

void Metric::Record(double value, const std::unordered_map<std::string, std::string>& tags) {
  RecordIn(metric_, value, tags);
}

Gauge::Gauge(const std::string& name, const std::string& description, const std::string& unit,
             const std::vector<std::string>&) {
  metric_ = Create(name, description, unit, MetricType::kGauge);
}

void Gauge::Set(double value, const std::unordered_map<std::string, std::string>& tags) {
  RecordIn(metric_, value, tags);
}

Histogram::Histogram(const std::string& name, const std::string& description,
                     const std::string& unit, const std::vector<double> boundaries,
                     const std::vector<std::string>&) {
  metric_ = Create(name, description, unit, MetricType::kHistogram, boundaries);
}

void Histogram::Observe(double value, const std::unordered_map<std::string, std::string>& tags) {
  RecordIn(metric_, value, tags);
}

Counter::Counter(const std::string& name, const std::string& description, const std::string& unit,
                 const std::vector<std::string>&) {
  metric_ = Create(name, description, unit, MetricType::kCounter);
}

void Counter::Inc(double value, const std::unordered_map<std::string, std::string>& tags) {
  RecordIn(metric_, value, tags);
}

Sum::Sum(const std::string& name, const std::string& description, const std::string& unit,
         const std::vector<std::string>&) {
  metric_ = Create(name, description, unit, MetricType::kSum);
}

}  // namespace ray
