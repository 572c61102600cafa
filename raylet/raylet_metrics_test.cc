#include "raylet/raylet_metrics.h"

#include <catch2/catch.hpp>

using namespace lumen;

namespace {

rpc::ReportMetricsRequest HistogramReport() {
  rpc::ReportMetricsRequest request;
  rpc::MetricSample* sample = request.add_samples();
  sample->set_name("ray_lat");
  sample->set_type(rpc::MetricSample::HISTOGRAM);
  sample->set_value(50.5);
  for (double b : {1.0, 10.0}) sample->add_boundaries(b);
  for (uint64_t c : {1, 0, 1}) sample->add_bucket_counts(c);
  rpc::MetricSample* tasks = request.add_samples();
  tasks->set_name("ray_tasks");
  tasks->set_type(rpc::MetricSample::SUM);
  tasks->set_value(3);
  (*tasks->mutable_tags())["Name"] = "f";
  (*tasks->mutable_tags())["State"] = "FINISHED";
  return request;
}

}  // namespace

TEST_CASE("the raylet adds up the reports of its workers") {
  metrics::Registry node;
  raylet::WorkerMetricsSink sink(node);
  CHECK(sink.Merge(HistogramReport()).dropped_samples() == 0);
  CHECK(sink.Merge(HistogramReport()).dropped_samples() == 0);  // A second worker.
  std::string text = node.Render();
  CHECK(text.find("ray_lat_bucket{le=\"1\"} 2\n") != std::string::npos);
  CHECK(text.find("ray_lat_bucket{le=\"+Inf\"} 4\n") != std::string::npos);
  CHECK(text.find("ray_lat_sum 101\n") != std::string::npos);
  CHECK(text.find("ray_tasks{Name=\"f\",State=\"FINISHED\"} 6\n") != std::string::npos);
}

TEST_CASE("the raylet refuses and counts samples it cannot merge") {
  metrics::Registry node;
  node.Gauge("ray_resources", "the raylet's own");
  raylet::WorkerMetricsSink sink(node);
  REQUIRE(sink.Merge(HistogramReport()).dropped_samples() == 0);
  rpc::ReportMetricsRequest bad = HistogramReport();
  bad.mutable_samples(0)->add_boundaries(100);          // Other boundaries.
  bad.mutable_samples(1)->set_type(rpc::MetricSample::HISTOGRAM);  // Other type.
  rpc::MetricSample* own = bad.add_samples();
  own->set_name("ray_resources");                 // The raylet's own name.
  bad.set_dropped_series(4);                            // Dropped by the worker.
  CHECK(sink.Merge(bad).dropped_samples() == 3);
  CHECK(node.Render().find("ray_metrics_dropped_samples_total 7\n") != std::string::npos);

  rpc::ReportMetricsRequest flood;
  for (int i = 0; i < raylet::kMaxSamplesPerReport + 5; ++i) {
    rpc::MetricSample* s = flood.add_samples();
    s->set_name("ray_flood");
    (*s->mutable_tags())["i"] = std::to_string(i);
  }
  CHECK(sink.Merge(flood).dropped_samples() == 5);
}
