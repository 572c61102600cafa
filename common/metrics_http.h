// common/metrics_http.h
//
// MetricsExporter serves GET /metrics (Prometheus' text format, rendered
// from a metrics::Registry) over HTTP/1.1 (common/http_server.h), on the
// daemon's own Asio loop: a scrape renders on the loop thread, so the registry's
// collectors read loop-owned state without locks (docs/metrics.md). One
// request per connection; any other path answers 404, any other method 405.
// A request is bounded (16 KiB of headers, no body) and one that does not
// arrive within 10 s is dropped.
//
// The service-discovery file: every daemon adds its endpoint to
// <session_dir>/metrics/prom_metrics_service_discovery.json, in Prometheus'
// file_sd format ([{"labels": {...}, "targets": ["ip:port"]}], one entry per
// daemon of the node), under an flock so that daemons starting together do
// not lose each other's entries; the file is replaced by a rename.
// Threading: Start/Stop and the serving run on the loop of `io` (Start may
// also run before the loop does). Failure: Start returns the bind error.
#pragma once

#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/metrics.h"

namespace lumen::metrics {

class MetricsExporter {
 public:
  // `registry` is not owned and must outlive the exporter.
  MetricsExporter(boost::asio::io_context& io, Registry& registry);
  ~MetricsExporter();

  // Listens on `ip:port` (0: a free port); returns the bound port.
  absl::StatusOr<int> Start(const std::string& ip, int port);
  void Stop();
  int port() const { return port_; }

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
  int port_ = 0;
};

inline constexpr char kServiceDiscoveryFile[] = "metrics/prom_metrics_service_discovery.json";

// Adds (or replaces) the entry of `component` ("gcs", "raylet", "plasma")
// with target `ip:port` and labels {component, node_address: ip}.
absl::Status RegisterMetricsTarget(const std::string& session_dir, const std::string& component,
                                   const std::string& ip, int port);
// Removes the entry of `component`, if any.
absl::Status UnregisterMetricsTarget(const std::string& session_dir, const std::string& component);

// How a daemon exports its metrics (its --metrics-export-port and where it
// advertises them).
struct MetricsExportOptions {
  int port = -1;            // -1: no exporter; 0: a free port.
  std::string ip;           // Listen address, also the advertised one.
  std::string session_dir;  // Empty: not advertised.
  std::string component;    // "gcs", "raylet", "plasma".
};

// Starts `exporter` as `options` say and advertises it in the session's
// service-discovery file. Returns the bound port (0: disabled).
absl::StatusOr<int> ServeMetrics(MetricsExporter& exporter, const MetricsExportOptions& options);

}  // namespace lumen::metrics
