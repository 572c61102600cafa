// common/metrics.h
//
// A small metrics library: gauges, counters, sums and histograms with label
// sets, kept in a Registry and rendered in Prometheus' text exposition format
// (version 0.0.4: # HELP / # TYPE lines, escaped label values, histograms as
// _bucket{le=...} / _sum / _count with le="+Inf"). docs/metrics.md lists the
// names every daemon exports.
//
// Ownership: a Registry owns its Families, a Family owns its Cells; both
// live as long as the registry, so a `Cell&` may be cached and updated on a
// hot path: an update is one or two relaxed atomics, no lock, no allocation.
// Looking a cell up (Family::Get) takes the family's mutex and allocates only
// when the label set is new. Family::Clear() frees the cells: only for
// families refreshed by a collector whose cells nobody caches.
//
// Types as rendered: a counter is `# TYPE counter` with the suffix `_total`
// added to its name (as Prometheus' client libraries do); a sum is a value
// that moves by Add() in both directions and renders as a gauge.
// Threading: everything may be called from any thread. Collectors run on the
// thread that calls Render(). Failure: names and label names are sanitized
// (invalid characters become '_'); registering an existing name with another
// type or other histogram boundaries returns null.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace lumen::metrics {

enum class MetricType { kGauge, kCounter, kSum, kHistogram };

// Label pairs in any order; Family::Get sorts them by key.
using Labels = std::vector<std::pair<std::string, std::string>>;

// One time series (a metric name plus one label set).
class Cell {
 public:
  explicit Cell(size_t num_buckets);
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double delta);
  // Histograms: counts `value` in its bucket and adds it to the sum.
  void Observe(double value);
  // Histograms: adds per-bucket counts (non-cumulative, boundaries + 1 of
  // them; extra entries are ignored) and `sum_delta` to the sum.
  void AddBuckets(const std::vector<uint64_t>& counts, double sum_delta);

  double value() const { return value_.load(std::memory_order_relaxed); }
  // The cell's labels, sorted by key (names sanitized).
  const Labels& labels() const { return labels_; }
  // Non-cumulative bucket counts; empty for other types.
  std::vector<uint64_t> bucket_counts() const;

 private:
  friend class Family;
  Labels labels_;
  std::atomic<double> value_{0};  // Histograms: the sum of observations.
  const std::vector<double>* boundaries_ = nullptr;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  size_t num_buckets_ = 0;
};

// One metric name: its type, help text and cells by label set.
class Family {
 public:
  Family(std::string name, std::string help, MetricType type, std::vector<double> boundaries);

  // The cell of `labels`, created on first use (zero).
  Cell& Get(const Labels& labels);
  Cell& Get() { return Get(Labels{}); }
  // The cell of `labels` if it exists (never creates one).
  Cell* Find(const Labels& labels) const;
  void Clear();

  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<double>& boundaries() const { return boundaries_; }
  size_t size() const;

  // Calls `fn(rendered label string, cell)` for every cell, in label order,
  // under the family's lock (`fn` must not call back into the family).
  // The string is `k1="v1",k2="v2"` with escaped values ("" without labels).
  void ForEach(const std::function<void(const std::string&, const Cell&)>& fn) const;
  // Appends this family in the text format.
  void Render(std::string& out) const;

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<double> boundaries_;
  mutable absl::Mutex mu_;
  // Keyed by the rendered label string, which is also what Render prints.
  absl::flat_hash_map<std::string, std::unique_ptr<Cell>> cells_ ABSL_GUARDED_BY(mu_);
};

class Registry {
 public:
  // Get-or-create. Null when `name` exists with another type or boundaries.
  // Histogram boundaries must ascend (others are dropped from the list).
  Family* Add(std::string_view name, std::string_view help, MetricType type,
              std::vector<double> boundaries = {});
  Family* Gauge(std::string_view name, std::string_view help) {
    return Add(name, help, MetricType::kGauge);
  }
  Family* Counter(std::string_view name, std::string_view help) {
    return Add(name, help, MetricType::kCounter);
  }
  Family* Histogram(std::string_view name, std::string_view help, std::vector<double> boundaries) {
    return Add(name, help, MetricType::kHistogram, std::move(boundaries));
  }
  Family* Find(std::string_view name) const;
  // Every family, in name order.
  std::vector<const Family*> Families() const;
  size_t SeriesCount() const;

  // `collect` runs at the start of every Render(), to refresh gauges read
  // from state (it runs on the rendering thread).
  void AddCollector(std::function<void()> collect);
  // Runs the collectors, then renders every family in name order.
  std::string Render();

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
  std::vector<std::function<void()>> collectors_ ABSL_GUARDED_BY(mu_);
};

// Text-format helpers (exposed for tests and the service-discovery file).
std::string SanitizeName(std::string_view name);       // [a-zA-Z_:][a-zA-Z0-9_:]*
std::string SanitizeLabelName(std::string_view name);  // [a-zA-Z_][a-zA-Z0-9_]*
std::string EscapeLabelValue(std::string_view value);  // \ " and newline
std::string FormatValue(double value);                 // +Inf, -Inf, NaN, shortest exact
// `k1="v1",k2="v2"`, sorted by key, names sanitized, values escaped.
std::string RenderLabels(const Labels& labels);

// Latency buckets in seconds, 100 µs to 10 s, for RPC histograms.
std::vector<double> LatencyBucketsSeconds();

}  // namespace lumen::metrics
