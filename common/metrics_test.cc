#include "common/metrics.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/event_loop.h"
#include "common/metrics_http.h"

using namespace lumen::metrics;

TEST_CASE("gauges and counters render with HELP, TYPE and sorted labels") {
  Registry registry;
  Family* gauge = registry.Gauge("ray_node_mem", "Memory of the node.\nIn bytes.");
  gauge->Get({{"b", "2"}, {"a", "1"}}).Set(42);
  Family* counter = registry.Counter("ray_jobs", "Jobs started.");
  counter->Get().Add(3);
  counter->Get().Add(0.5);
  std::string text = registry.Render();
  CHECK(text ==
        "# HELP ray_jobs_total Jobs started.\n"
        "# TYPE ray_jobs_total counter\n"
        "ray_jobs_total 3.5\n"
        "# HELP ray_node_mem Memory of the node.\\nIn bytes.\n"
        "# TYPE ray_node_mem gauge\n"
        "ray_node_mem{a=\"1\",b=\"2\"} 42\n");
}

TEST_CASE("label values are escaped and names sanitized") {
  Registry registry;
  Family* family = registry.Gauge("my.metric-name", "x");
  REQUIRE(family->name() == "my_metric_name");
  family->Get({{"path", "C:\\dir \"q\"\nnext"}, {"bad-key", "v"}}).Set(1);
  std::string text = registry.Render();
  CHECK(text.find("my_metric_name{bad_key=\"v\",path=\"C:\\\\dir \\\"q\\\"\\nnext\"} 1\n") !=
        std::string::npos);
  CHECK(SanitizeName("9lives") == "_lives");
  CHECK(SanitizeLabelName("a:b") == "a_b");
  CHECK(SanitizeName("a:b") == "a:b");
}

TEST_CASE("histograms render cumulative buckets, +Inf, _sum and _count") {
  Registry registry;
  Family* family = registry.Histogram("ray_rpc_latency_seconds", "Latency.", {0.1, 1, 10});
  Cell& cell = family->Get({{"Method", "Get"}});
  cell.Observe(0.05);
  cell.Observe(0.1);  // On a boundary: counted in le="0.1".
  cell.Observe(5);
  cell.Observe(100);
  std::string text = registry.Render();
  CHECK(text ==
        "# HELP ray_rpc_latency_seconds Latency.\n"
        "# TYPE ray_rpc_latency_seconds histogram\n"
        "ray_rpc_latency_seconds_bucket{Method=\"Get\",le=\"0.1\"} 2\n"
        "ray_rpc_latency_seconds_bucket{Method=\"Get\",le=\"1\"} 2\n"
        "ray_rpc_latency_seconds_bucket{Method=\"Get\",le=\"10\"} 3\n"
        "ray_rpc_latency_seconds_bucket{Method=\"Get\",le=\"+Inf\"} 4\n"
        "ray_rpc_latency_seconds_sum{Method=\"Get\"} 105.15\n"
        "ray_rpc_latency_seconds_count{Method=\"Get\"} 4\n");
  cell.AddBuckets({1, 0, 0, 2}, 30);
  CHECK(cell.bucket_counts() == std::vector<uint64_t>{3, 0, 1, 3});
}

TEST_CASE("a name registered again with another type or boundaries is refused") {
  Registry registry;
  Family* first = registry.Histogram("h", "", {1, 2});
  CHECK(registry.Histogram("h", "", {1, 2}) == first);
  CHECK(registry.Histogram("h", "", {1, 3}) == nullptr);
  CHECK(registry.Gauge("h", "") == nullptr);
  // Unsorted or repeated boundaries are dropped from the list.
  CHECK(registry.Histogram("h2", "", {1, 1, 0.5, 2})->boundaries() == std::vector<double>{1, 2});
}

TEST_CASE("values format exactly and special values as Prometheus spells them") {
  CHECK(FormatValue(1e6) == "1000000");
  CHECK(FormatValue(0.25) == "0.25");
  CHECK(FormatValue(12345678901234.0) == "12345678901234");
  CHECK(FormatValue(1.0 / 0.0) == "+Inf");
  CHECK(FormatValue(-1.0 / 0.0) == "-Inf");
  CHECK(FormatValue(0.0 / 0.0) == "NaN");
}

TEST_CASE("collectors refresh gauges at each render") {
  Registry registry;
  Family* family = registry.Gauge("g", "");
  int calls = 0;
  registry.AddCollector([&] { family->Get().Set(++calls); });
  CHECK(registry.Render().find("g 1\n") != std::string::npos);
  CHECK(registry.Render().find("g 2\n") != std::string::npos);
}

namespace {

// One HTTP exchange with the exporter; returns the whole response.
std::string HttpExchange(int port, const std::string& request) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket(io);
  socket.connect({boost::asio::ip::make_address("127.0.0.1"), static_cast<unsigned short>(port)});
  boost::asio::write(socket, boost::asio::buffer(request));
  std::string response;
  boost::system::error_code ec;
  boost::asio::read(socket, boost::asio::dynamic_buffer(response), ec);
  return response;
}

}  // namespace

TEST_CASE("the exporter serves /metrics over HTTP and refuses other paths") {
  Registry registry;
  registry.Gauge("up_value", "x")->Get().Set(7);
  lumen::EventLoop loop;
  MetricsExporter exporter(loop.io_context(), registry);
  auto port = exporter.Start("127.0.0.1", 0);
  REQUIRE(port.ok());
  REQUIRE(*port > 0);
  loop.StartThread();
  std::string ok = HttpExchange(*port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(ok.rfind("HTTP/1.1 200", 0) == 0);
  CHECK(ok.find("text/plain; version=0.0.4") != std::string::npos);
  CHECK(ok.find("\r\n\r\n# HELP up_value x\n# TYPE up_value gauge\nup_value 7\n") != std::string::npos);
  CHECK(HttpExchange(*port, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n").rfind("HTTP/1.1 404", 0) == 0);
  CHECK(HttpExchange(*port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
            .rfind("HTTP/1.1 405", 0) == 0);
  // Oversized headers end the connection without an answer.
  std::string huge = "GET /metrics HTTP/1.1\r\nX: " + std::string(20000, 'a') + "\r\n\r\n";
  CHECK(HttpExchange(*port, huge).find("up_value") == std::string::npos);

  // The port is taken now: a second exporter on it says so.
  MetricsExporter second(loop.io_context(), registry);
  auto taken = second.Start("127.0.0.1", *port);
  CHECK(absl::IsAlreadyExists(taken.status()));
  std::promise<void> stopped;
  loop.Post([&] {
    exporter.Stop();
    stopped.set_value();
  });
  stopped.get_future().wait();
  loop.StopAndJoin();
}

// The descriptor of this process's socket bound to TCP `port`, or -1.
int SocketBoundTo(int port) {
  for (int fd = 0; fd < 4096; ++fd) {
    sockaddr_in addr{};
    socklen_t len = sizeof(addr);
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0 && addr.sin_family == AF_INET &&
        ntohs(addr.sin_port) == port) {
      return fd;
    }
  }
  return -1;
}

TEST_CASE("the exporter's listening socket is not inherited by the daemon's children") {
  // A raylet forks workers: an inherited listener would be open in each.
  Registry registry;
  lumen::EventLoop loop;
  MetricsExporter exporter(loop.io_context(), registry);
  auto port = exporter.Start("127.0.0.1", 0);
  REQUIRE(port.ok());
  int fd = SocketBoundTo(*port);
  REQUIRE(fd >= 0);
  CHECK((::fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
}

TEST_CASE("daemons share the service-discovery file of their session") {
  std::string dir = std::filesystem::temp_directory_path() / ("metrics_sd_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  REQUIRE(RegisterMetricsTarget(dir, "gcs", "127.0.0.1", 1000).ok());
  REQUIRE(RegisterMetricsTarget(dir, "raylet", "127.0.0.1", 1001).ok());
  REQUIRE(RegisterMetricsTarget(dir, "gcs", "127.0.0.1", 1002).ok());  // Restarted: replaced.
  auto read = [&] {
    std::ifstream in(dir + "/" + kServiceDiscoveryFile);
    std::stringstream text;
    text << in.rdbuf();
    return nlohmann::json::parse(text.str());
  };
  nlohmann::json entries = read();
  REQUIRE(entries.size() == 2);
  CHECK(entries[0]["labels"]["component"] == "raylet");
  CHECK(entries[1]["targets"][0] == "127.0.0.1:1002");
  REQUIRE(UnregisterMetricsTarget(dir, "raylet").ok());
  CHECK(read().size() == 1);
  std::filesystem::remove_all(dir);
}
