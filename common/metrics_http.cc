#include "common/metrics_http.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "common/paths.h"

namespace lumen::metrics {
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = boost::asio::ip::tcp;

namespace {

constexpr auto kConnectionTimeout = std::chrono::seconds(10);

// Asio opens sockets without close-on-exec; a raylet forks workers, which
// would otherwise hold the daemon's listener and connections open.
void CloseOnExec(int fd) { ::fcntl(fd, F_SETFD, ::fcntl(fd, F_GETFD) | FD_CLOEXEC); }
constexpr uint32_t kMaxHeaderBytes = 8 * 1024;

// One scrape: read the request, answer, close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Registry& registry)
      : stream_(std::move(socket)), registry_(registry) {}

  void Read() {
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(0);
    stream_.expires_after(kConnectionTimeout);
    http::async_read(stream_, buffer_, parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (!ec) self->Answer();
                     });
  }

 private:
  void Answer() {
    const auto& request = parser_.get();
    response_.version(request.version());
    response_.keep_alive(false);
    response_.set(http::field::server, "lumen");
    std::string_view target(request.target().data(), request.target().size());
    target = target.substr(0, target.find('?'));
    if (request.method() != http::verb::get && request.method() != http::verb::head) {
      response_.result(http::status::method_not_allowed);
      response_.set(http::field::content_type, "text/plain");
      response_.body() = "only GET\n";
    } else if (target != "/metrics") {
      response_.result(http::status::not_found);
      response_.set(http::field::content_type, "text/plain");
      response_.body() = "not found; metrics are at /metrics\n";
    } else {
      response_.result(http::status::ok);
      response_.set(http::field::content_type, "text/plain; version=0.0.4; charset=utf-8");
      response_.body() = registry_.Render();
    }
    response_.prepare_payload();
    http::async_write(stream_, response_, [self = shared_from_this()](beast::error_code, size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  Registry& registry_;
  beast::flat_buffer buffer_;
  http::request_parser<http::empty_body> parser_;
  http::response<http::string_body> response_;
};

}  // namespace

struct MetricsExporter::Impl : std::enable_shared_from_this<Impl> {
  Impl(boost::asio::io_context& io, Registry& registry) : acceptor(io), registry(registry) {}

  void Accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == boost::asio::error::operation_aborted || !self->acceptor.is_open()) return;
      if (!ec) {
        CloseOnExec(socket.native_handle());
        std::make_shared<Session>(std::move(socket), self->registry)->Read();
      }
      self->Accept();
    });
  }

  tcp::acceptor acceptor;
  Registry& registry;
};

MetricsExporter::MetricsExporter(boost::asio::io_context& io, Registry& registry)
    : impl_(std::make_shared<Impl>(io, registry)) {}

MetricsExporter::~MetricsExporter() { Stop(); }

absl::StatusOr<int> MetricsExporter::Start(const std::string& ip, int port) {
  beast::error_code ec;
  auto address = boost::asio::ip::make_address(ip, ec);
  if (ec) return absl::InvalidArgumentError("metrics export address " + ip + ": " + ec.message());
  tcp::endpoint endpoint(address, static_cast<unsigned short>(port));
  auto& acceptor = impl_->acceptor;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) CloseOnExec(acceptor.native_handle());
  if (!ec) acceptor.set_option(boost::asio::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    beast::error_code ignored;
    acceptor.close(ignored);
    std::string where = ip + ":" + std::to_string(port);
    if (ec == boost::asio::error::address_in_use) {
      return absl::AlreadyExistsError("metrics export port " + where + " is in use (--metrics-export-port)");
    }
    return absl::UnavailableError("cannot listen for metrics on " + where + ": " + ec.message());
  }
  port_ = acceptor.local_endpoint().port();
  impl_->Accept();
  return port_;
}

void MetricsExporter::Stop() {
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

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
