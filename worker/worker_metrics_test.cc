#include "worker/worker_metrics.h"

#include <catch2/catch.hpp>

#include "ray/api/metric.h"

using namespace lumen;
using namespace lumen::worker;

namespace {

const rpc::MetricSample* FindSample(const rpc::ReportMetricsRequest& request, const std::string& name,
                                    const std::string& tag, const std::string& value) {
  for (const auto& sample : request.samples()) {
    auto it = sample.tags().find(tag);
    if (sample.name() == name && it != sample.tags().end() && it->second == value) return &sample;
  }
  return nullptr;
}

// The ray_tasks sample of function `name` in `state`.
const rpc::MetricSample* FindTask(const rpc::ReportMetricsRequest& request, const std::string& name,
                                  const std::string& state) {
  for (const auto& sample : request.samples()) {
    if (sample.name() == "ray_tasks" && sample.tags().at("Name") == name && sample.tags().at("State") == state) {
      return &sample;
    }
  }
  return nullptr;
}

}  // namespace

TEST_CASE("a task is PENDING from its submission to its end, then FINISHED or FAILED") {
  ProcessMetricsState state;
  TaskMetrics tasks(state);
  MetricsReporter::RayletClient raylet("127.0.0.1:1", "token");  // Never called here.
  MetricsReporter reporter(raylet, "w", std::chrono::milliseconds(1000), state);
  for (int i = 0; i < 3; ++i) tasks.Submitted("f");
  tasks.Submitted("g");
  rpc::ReportMetricsRequest submitted = reporter.Diff();
  REQUIRE(FindTask(submitted, "f", "PENDING") != nullptr);
  CHECK(FindTask(submitted, "f", "PENDING")->value() == 3);
  CHECK(FindTask(submitted, "g", "PENDING")->value() == 1);
  reporter.Accept();
  tasks.Count("f", false);
  tasks.Count("f", false);
  tasks.Count("g", true);
  // Increases since the last accepted report: the raylet adds them up.
  rpc::ReportMetricsRequest ended = reporter.Diff();
  CHECK(FindTask(ended, "f", "PENDING")->value() == -2);
  CHECK(FindTask(ended, "f", "FINISHED")->value() == 2);
  CHECK(FindTask(ended, "g", "PENDING")->value() == -1);
  CHECK(FindTask(ended, "g", "FAILED")->value() == 1);
  CHECK(FindTask(ended, "g", "FINISHED") == nullptr);  // Unchanged: not sent.
}

TEST_CASE("the reporter sends increases of counters and values of gauges, once accepted") {
  ProcessMetricsState state;
  TaskMetrics tasks(state);
  tasks.Count("f", false);
  tasks.Count("f", false);
  tasks.Count("g", true);
  state.registry.Gauge("ray_queue", "")->Get({{"Q", "a"}}).Set(5);
  MetricsReporter::RayletClient raylet("127.0.0.1:1", "token");  // Never called here.
  MetricsReporter reporter(raylet, "w", std::chrono::milliseconds(1000), state);

  rpc::ReportMetricsRequest first = reporter.Diff();
  const rpc::MetricSample* f = FindTask(first, "f", "FINISHED");
  REQUIRE(f != nullptr);
  CHECK(f->type() == rpc::MetricSample::SUM);
  CHECK(f->value() == 2);
  const rpc::MetricSample* g = FindTask(first, "g", "FAILED");
  REQUIRE(g != nullptr);
  REQUIRE(FindSample(first, "ray_queue", "Q", "a") != nullptr);

  // Not accepted (the call failed): the next diff carries the same increase.
  tasks.Count("f", false);
  rpc::ReportMetricsRequest again = reporter.Diff();
  CHECK(FindTask(again, "f", "FINISHED")->value() == 3);
  reporter.Accept();
  CHECK(reporter.Diff().samples_size() == 0);  // Nothing changed since.
  tasks.Count("f", false);
  rpc::ReportMetricsRequest third = reporter.Diff();
  REQUIRE(third.samples_size() == 2);  // FINISHED +1, PENDING -1.
  CHECK(FindTask(third, "f", "FINISHED")->value() == 1);
  CHECK(FindTask(third, "f", "PENDING")->value() == -1);
}

TEST_CASE("histograms travel as bucket increases") {
  ProcessMetricsState state;
  metrics::Family* family = state.registry.Histogram("ray_lat", "", {1, 10});
  family->Get().Observe(0.5);
  family->Get().Observe(50);
  MetricsReporter::RayletClient raylet("127.0.0.1:1", "token");
  MetricsReporter reporter(raylet, "w", std::chrono::milliseconds(1000), state);
  rpc::ReportMetricsRequest request = reporter.Diff();
  REQUIRE(request.samples_size() == 1);
  CHECK(request.samples(0).type() == rpc::MetricSample::HISTOGRAM);
  CHECK(request.samples(0).value() == 50.5);
  CHECK(std::vector<uint64_t>(request.samples(0).bucket_counts().begin(),
                              request.samples(0).bucket_counts().end()) ==
        std::vector<uint64_t>{1, 0, 1});
  reporter.Accept();
  family->Get().Observe(5);
  rpc::ReportMetricsRequest next = reporter.Diff();
  REQUIRE(next.samples_size() == 1);
  CHECK(std::vector<uint64_t>(next.samples(0).bucket_counts().begin(),
                              next.samples(0).bucket_counts().end()) ==
        std::vector<uint64_t>{0, 1, 0});
}

TEST_CASE("user metrics of ray/api/metric.h land in the process registry under ray_") {
  ray::Counter counter("api_counter", "Counts.", "calls", {"k"});
  counter.Inc(2, {{"k", "v"}});
  counter.Inc(-1, {{"k", "v"}});  // Ignored: counters only go up.
  ray::Sum sum("api_sum", "", "");
  sum.Record(3, {});
  sum.Record(-1, {});
  ray::Histogram histogram("api_hist", "", "ms", {1, 2}, {});
  histogram.Observe(1.5, {});
  ray::Gauge clash("api_counter", "", "");  // Same name, other type: records nothing.
  clash.Set(7, {});
  metrics::Registry& registry = ProcessMetrics().registry;
  REQUIRE(registry.Find("ray_api_counter")->Find({{"k", "v"}}) != nullptr);
  CHECK(registry.Find("ray_api_counter")->Find({{"k", "v"}})->value() == 2);
  CHECK(registry.Find("ray_api_sum")->Get().value() == 2);
  CHECK(registry.Find("ray_api_hist")->Get().bucket_counts() == std::vector<uint64_t>{0, 1, 0});
  CHECK(registry.Find("ray_api_counter")->type() == metrics::MetricType::kCounter);
}

// Fills the process's series: keep it last.
TEST_CASE("a process keeps at most kMaxSeriesPerProcess series and counts the rest") {
  ProcessMetricsState& state = ProcessMetrics();
  ray::Gauge gauge("cap_test_gauge", "for the cap", "things", {"i"});
  const size_t before = state.series.load();
  for (size_t i = 0; i < kMaxSeriesPerProcess + 10; ++i) gauge.Set(1, {{"i", std::to_string(i)}});
  CHECK(state.series.load() == kMaxSeriesPerProcess);
  CHECK(state.dropped.load() >= kMaxSeriesPerProcess + 10 - (kMaxSeriesPerProcess - before));
  CHECK(gauge.GetName() == "cap_test_gauge");
}
