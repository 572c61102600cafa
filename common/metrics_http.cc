#include "common/metrics_http.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/http_server.h"
#include "common/logging.h"
#include "common/paths.h"

namespace lumen::metrics {

// A scrape is answered on the loop thread by HttpServer (one request per
// connection, no body, 10 s to send the request).
struct MetricsExporter::Impl {
  Impl(boost::asio::io_context& io, Registry& registry)
      : server(io, [&registry](const http::Request& request) { return Answer(registry, request); },
               http::HttpServerOptions{.max_body_bytes = 0}) {}

  static http::Response Answer(Registry& registry, const http::Request& request) {
    http::Response response;
    response.content_type = "text/plain";
    if (request.method != "GET" && request.method != "HEAD") {
      response.status = 405;
      response.body = "only GET\n";
    } else if (request.path != "/metrics") {
      response.status = 404;
      response.body = "not found; metrics are at /metrics\n";
    } else {
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = registry.Render();
    }
    return response;
  }

  http::HttpServer server;
};

MetricsExporter::MetricsExporter(boost::asio::io_context& io, Registry& registry)
    : impl_(std::make_shared<Impl>(io, registry)) {}

MetricsExporter::~MetricsExporter() { Stop(); }

absl::StatusOr<int> MetricsExporter::Start(const std::string& ip, int port) {
  absl::StatusOr<int> bound = impl_->server.Start(ip, port);
  if (!bound.ok()) {
    const std::string where = ip + ":" + std::to_string(port);
    if (absl::IsAlreadyExists(bound.status())) {
      return absl::AlreadyExistsError("metrics export port " + where + " is in use (--metrics-export-port)");
    }
    if (absl::IsInvalidArgument(bound.status())) {
      return absl::InvalidArgumentError("metrics export address: " + std::string(bound.status().message()));
    }
    return absl::UnavailableError("cannot listen for metrics: " + std::string(bound.status().message()));
  }
  port_ = *bound;
  return port_;
}

void MetricsExporter::Stop() { impl_->server.Stop(); }

namespace {

// Holds an flock on <dir>/.lock while alive.
class DirLock {
 public:
  explicit DirLock(const std::string& dir) {
    fd_ = ::open((dir + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd_ >= 0) ::flock(fd_, LOCK_EX);
  }
  ~DirLock() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Reads the file (an absent or unreadable one is an empty list), applies
// `edit`, writes it back. Under the directory's lock.
absl::Status EditDiscoveryFile(const std::string& session_dir,
                               const std::function<void(nlohmann::json&)>& edit) {
  const std::string path = session_dir + "/" + kServiceDiscoveryFile;
  const std::string dir = std::filesystem::path(path).parent_path().string();
  // Owner-only, like everything in the session directory (docs/security.md).
  if (absl::Status made = EnsurePrivateDir(dir); !made.ok()) return made;
  DirLock lock(dir);
  if (!lock.ok()) return absl::PermissionDeniedError("cannot lock " + dir + "/.lock");
  nlohmann::json entries = nlohmann::json::array();
  std::ifstream in(path);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    auto parsed = nlohmann::json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
    if (parsed.is_array()) entries = std::move(parsed);
  }
  edit(entries);
  // Mode 0600: a Prometheus server reading it runs as this user (docs/metrics.md).
  if (absl::Status written = WritePrivateFile(path, entries.dump(2) + "\n"); !written.ok()) {
    return written;
  }
  return absl::OkStatus();
}

void RemoveComponent(nlohmann::json& entries, const std::string& component) {
  nlohmann::json kept = nlohmann::json::array();
  for (auto& entry : entries) {
    if (entry.value("labels", nlohmann::json::object()).value("component", "") != component) {
      kept.push_back(entry);
    }
  }
  entries = std::move(kept);
}

}  // namespace

absl::Status RegisterMetricsTarget(const std::string& session_dir, const std::string& component,
                                   const std::string& ip, int port) {
  return EditDiscoveryFile(session_dir, [&](nlohmann::json& entries) {
    RemoveComponent(entries, component);
    entries.push_back({{"labels", {{"component", component}, {"node_address", ip}}},
                       {"targets", {ip + ":" + std::to_string(port)}}});
  });
}

absl::Status UnregisterMetricsTarget(const std::string& session_dir, const std::string& component) {
  return EditDiscoveryFile(session_dir,
                           [&](nlohmann::json& entries) { RemoveComponent(entries, component); });
}

absl::StatusOr<int> ServeMetrics(MetricsExporter& exporter, const MetricsExportOptions& options) {
  if (options.port < 0) return 0;
  if (options.port > 65535) {
    return absl::InvalidArgumentError("--metrics-export-port " + std::to_string(options.port) +
                                      " is not a port (0 picks a free one)");
  }
  absl::StatusOr<int> port = exporter.Start(options.ip, options.port);
  if (!port.ok()) return port.status();
  if (!options.session_dir.empty()) {
    // Listening on every interface: advertise the node's own address.
    const std::string ip = options.ip == "0.0.0.0" ? DefaultNodeIp() : options.ip;
    absl::Status advertised = RegisterMetricsTarget(options.session_dir, options.component, ip, *port);
    if (!advertised.ok()) return advertised;
  }
  LOG(INFO) << options.component << " exports metrics at http://" << options.ip << ":" << *port
            << "/metrics";
  return port;
}

}  // namespace lumen::metrics
