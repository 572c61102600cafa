#include "common/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>

#include "absl/strings/str_cat.h"

namespace lumen::metrics {
namespace {

bool NameChar(char c, bool first, bool colon_ok) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return true;
  if (colon_ok && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

std::string Sanitize(std::string_view name, bool colon_ok) {
  std::string out(name);
  if (out.empty()) return "_";
  for (size_t i = 0; i < out.size(); ++i) {
    if (!NameChar(out[i], i == 0, colon_ok)) out[i] = '_';
  }
  return out;
}

// Backslash and newline escaped; double quotes too when `quotes`.
std::string Escape(std::string_view text, bool quotes) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quotes && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kHistogram:
      return "histogram";
    case MetricType::kGauge:
    case MetricType::kSum:
      break;
  }
  return "gauge";
}

// `{labels}` with `extra` (already rendered) appended; "" when both are empty.
std::string Braces(const std::string& labels, const std::string& extra) {
  if (labels.empty() && extra.empty()) return "";
  if (labels.empty()) return "{" + extra + "}";
  if (extra.empty()) return "{" + labels + "}";
  return "{" + labels + "," + extra + "}";
}

}  // namespace

std::string SanitizeName(std::string_view name) { return Sanitize(name, true); }
std::string SanitizeLabelName(std::string_view name) { return Sanitize(name, false); }

std::string EscapeLabelValue(std::string_view value) { return Escape(value, true); }

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  // Whole numbers (counts, bytes) print without an exponent.
  if (value == std::trunc(value) && std::fabs(value) < 9007199254740992.0) {
    return std::to_string(static_cast<int64_t>(value));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), value);
  if (ec != std::errc()) return "NaN";
  return std::string(buf, end);
}

std::string RenderLabels(const Labels& labels) {
  std::vector<std::pair<std::string, std::string_view>> sorted;
  sorted.reserve(labels.size());
  for (const auto& [key, value] : labels) sorted.emplace_back(SanitizeLabelName(key), value);
  std::sort(sorted.begin(), sorted.end());
  std::string out;
  for (const auto& [key, value] : sorted) {
    if (!out.empty()) out += ',';
    absl::StrAppend(&out, key, "=\"", EscapeLabelValue(value), "\"");
  }
  return out;
}

std::vector<double> LatencyBucketsSeconds() {
  return {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
          0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,     10};
}

Cell::Cell(size_t num_buckets) : num_buckets_(num_buckets) {
  if (num_buckets > 0) {
    buckets_ = std::make_unique<std::atomic<uint64_t>[]>(num_buckets);
    for (size_t i = 0; i < num_buckets; ++i) buckets_[i].store(0, std::memory_order_relaxed);
  }
}

void Cell::Add(double delta) {
  double old = value_.load(std::memory_order_relaxed);
  while (!value_.compare_exchange_weak(old, old + delta, std::memory_order_relaxed)) {
  }
}

void Cell::Observe(double value) {
  if (num_buckets_ == 0) return;
  const std::vector<double>& bounds = *boundaries_;
  size_t bucket = std::lower_bound(bounds.begin(), bounds.end(), value) - bounds.begin();
  buckets_[bucket].fetch_add(1, std::memory_order_relaxed);
  Add(value);
}

void Cell::AddBuckets(const std::vector<uint64_t>& counts, double sum_delta) {
  for (size_t i = 0; i < std::min(counts.size(), num_buckets_); ++i) {
    buckets_[i].fetch_add(counts[i], std::memory_order_relaxed);
  }
  Add(sum_delta);
}

std::vector<uint64_t> Cell::bucket_counts() const {
  std::vector<uint64_t> out(num_buckets_);
  for (size_t i = 0; i < num_buckets_; ++i) out[i] = buckets_[i].load(std::memory_order_relaxed);
  return out;
}

Family::Family(std::string name, std::string help, MetricType type, std::vector<double> boundaries)
    : name_(std::move(name)), help_(std::move(help)), type_(type), boundaries_(std::move(boundaries)) {}

Cell& Family::Get(const Labels& labels) {
  std::string key = RenderLabels(labels);
  absl::MutexLock lock(&mu_);
  auto& cell = cells_[key];
  if (!cell) {
    cell = std::make_unique<Cell>(type_ == MetricType::kHistogram ? boundaries_.size() + 1 : 0);
    cell->boundaries_ = &boundaries_;
    for (const auto& [key, value] : labels) cell->labels_.emplace_back(SanitizeLabelName(key), value);
    std::sort(cell->labels_.begin(), cell->labels_.end());
  }
  return *cell;
}

Cell* Family::Find(const Labels& labels) const {
  std::string key = RenderLabels(labels);
  absl::MutexLock lock(&mu_);
  auto it = cells_.find(key);
  return it == cells_.end() ? nullptr : it->second.get();
}

void Family::Clear() {
  absl::MutexLock lock(&mu_);
  cells_.clear();
}

size_t Family::size() const {
  absl::MutexLock lock(&mu_);
  return cells_.size();
}

void Family::ForEach(const std::function<void(const std::string&, const Cell&)>& fn) const {
  absl::MutexLock lock(&mu_);
  std::vector<const std::string*> keys;
  keys.reserve(cells_.size());
  for (const auto& [key, cell] : cells_) keys.push_back(&key);
  std::sort(keys.begin(), keys.end(), [](auto* a, auto* b) { return *a < *b; });
  for (const std::string* key : keys) fn(*key, *cells_.at(*key));
}

void Family::Render(std::string& out) const {
  const std::string name = type_ == MetricType::kCounter ? name_ + "_total" : name_;
  absl::StrAppend(&out, "# HELP ", name, " ", Escape(help_, false), "\n");
  absl::StrAppend(&out, "# TYPE ", name, " ", TypeName(type_), "\n");
  ForEach([&](const std::string& labels, const Cell& cell) {
    if (type_ != MetricType::kHistogram) {
      absl::StrAppend(&out, name, Braces(labels, ""), " ", FormatValue(cell.value()), "\n");
      return;
    }
    std::vector<uint64_t> counts = cell.bucket_counts();
    uint64_t cumulative = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
      cumulative += counts[i];
      std::string le = i < boundaries_.size() ? FormatValue(boundaries_[i]) : "+Inf";
      absl::StrAppend(&out, name, "_bucket", Braces(labels, "le=\"" + le + "\""), " ", cumulative,
                      "\n");
    }
    absl::StrAppend(&out, name, "_sum", Braces(labels, ""), " ", FormatValue(cell.value()), "\n");
    absl::StrAppend(&out, name, "_count", Braces(labels, ""), " ", cumulative, "\n");
  });
}

Family* Registry::Add(std::string_view raw_name, std::string_view help, MetricType type,
                      std::vector<double> boundaries) {
  std::string name = SanitizeName(raw_name);
  // Keep only an ascending, finite list (+Inf is implied).
  std::vector<double> bounds;
  for (double b : boundaries) {
    if (std::isfinite(b) && (bounds.empty() || b > bounds.back())) bounds.push_back(b);
  }
  if (type != MetricType::kHistogram) bounds.clear();
  absl::MutexLock lock(&mu_);
  auto& family = families_[name];
  if (!family) {
    family = std::make_unique<Family>(name, std::string(help), type, std::move(bounds));
    return family.get();
  }
  if (family->type() != type || family->boundaries() != bounds) return nullptr;
  return family.get();
}

Family* Registry::Find(std::string_view name) const {
  absl::MutexLock lock(&mu_);
  auto it = families_.find(SanitizeName(name));
  return it == families_.end() ? nullptr : it->second.get();
}

std::vector<const Family*> Registry::Families() const {
  absl::MutexLock lock(&mu_);
  std::vector<const Family*> out;
  for (const auto& [name, family] : families_) out.push_back(family.get());
  std::sort(out.begin(), out.end(), [](auto* a, auto* b) { return a->name() < b->name(); });
  return out;
}

size_t Registry::SeriesCount() const {
  size_t total = 0;
  for (const Family* family : Families()) total += family->size();
  return total;
}

void Registry::AddCollector(std::function<void()> collect) {
  absl::MutexLock lock(&mu_);
  collectors_.push_back(std::move(collect));
}

std::string Registry::Render() {
  std::vector<std::function<void()>> collectors;
  {
    absl::MutexLock lock(&mu_);
    collectors = collectors_;
  }
  for (auto& collect : collectors) collect();
  std::string out;
  for (const Family* family : Families()) family->Render(out);
  return out;
}

}  // namespace lumen::metrics
