// ray/api/metric.h
//
// User metrics, as Ray's C++ API has them: ray::Gauge, ray::Counter,
// ray::Histogram and ray::Sum, each with a name, a description, a unit and
// tag keys; values are recorded with a map of tags. Lumen sends them, with
// the process's task counts, to the node's raylet about every second, which
// exports them on its Prometheus endpoint as ray_<name> (docs/metrics.md).
// A metric may be created before ray::Init and used from any thread; an
// update of an existing tag set takes a lock and no allocation beyond the
// tag lookup. A name already used with another type (or other histogram
// boundaries) makes the metric record nothing (one warning in the log).
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace ray {

class Metric {
 public:
  virtual ~Metric() = 0;

  /// Get the name of this metric.
  std::string GetName() const;

  /// Record the value for this metric.
  void Record(double value, const std::unordered_map<std::string, std::string> &tags);

 protected:
  void *metric_ = nullptr;
};

class Gauge : public Metric {
 public:
  /// Keeps the last recorded value (Prometheus' gauge).
  Gauge(const std::string &name, const std::string &description, const std::string &unit,
        const std::vector<std::string> &tag_keys = {});
  /// Set the gauge to the given `value`.
  void Set(double value, const std::unordered_map<std::string, std::string> &tags);
};

class Histogram : public Metric {
 public:
  /// Counts observations in buckets bounded by `boundaries` (Prometheus' histogram).
  Histogram(const std::string &name, const std::string &description, const std::string &unit,
            const std::vector<double> boundaries, const std::vector<std::string> &tag_keys = {});
  /// Observe a given `value` and add it to the appropriate bucket.
  void Observe(double value, const std::unordered_map<std::string, std::string> &Tags);
};

class Counter : public Metric {
 public:
  /// A cumulative, monotonically increasing value (Prometheus' counter).
  Counter(const std::string &name, const std::string &description, const std::string &unit,
          const std::vector<std::string> &tag_keys = {});
  /// Increment the counter by `value` (negative values are ignored).
  void Inc(double value, const std::unordered_map<std::string, std::string> &tags);
};

class Sum : public Metric {
 public:
  /// A sum of the recorded values (may go down; exported as a gauge).
  Sum(const std::string &name, const std::string &description, const std::string &unit,
      const std::vector<std::string> &tag_keys = {});
};

}  // namespace ray
