// Metrics of a real 2-node cluster (docs/metrics.md): every daemon's
// endpoint is listed in its session's service-discovery file and passes
// `promtool check metrics`; a real Prometheus server pointed at both nodes'
// files scrapes every daemon, and its query API finds the task counts and
// the user metrics of a driver that ran tasks.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/harness.h"
#include "tests/metrics_scrape.h"

namespace lumen::testing {
namespace {

constexpr int kDeadlineMs = 60000;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string UrlEncode(const std::string& text) {
  std::string out;
  char buf[4];
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
      out += static_cast<char>(c);
    } else {
      std::snprintf(buf, sizeof(buf), "%%%02X", c);
      out += buf;
    }
  }
  return out;
}

// The scalar result of an instant query (summed), or -1 when empty/failed.
double Query(int prometheus_port, const std::string& promql) {
  std::string body = HttpGet("127.0.0.1", prometheus_port, "/api/v1/query?query=" + UrlEncode(promql));
  auto reply = nlohmann::json::parse(body, nullptr, false);
  if (!reply.is_object() || reply.value("status", "") != "success") return -1;
  const auto& result = reply["data"]["result"];
  if (!result.is_array() || result.empty()) return -1;
  double total = 0;
  for (const auto& series : result) total += std::stod(series["value"][1].get<std::string>());
  return total;
}

std::string FindPromtool() {
  for (const char* path : {"/usr/bin/promtool", "/usr/local/bin/promtool"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

std::vector<std::string> SmallNode(std::vector<std::string> args) {
  args.insert(args.end(), {"--object-store-memory", "33554432", "--metrics-export-port", "0"});
  return args;
}

TEST_CASE("a Prometheus server scrapes every daemon of a 2-node cluster", "[integration]") {
  Sandbox sandbox;
  const std::string port = std::to_string(Sandbox::FreePort());
  CommandResult head = sandbox.Lumen(SmallNode({"start", "--head", "--port", port, "--num-cpus", "2"}));
  INFO(head.Describe());
  REQUIRE(head.exit_code == 0);
  const std::string address = "127.0.0.1:" + port;
  CommandResult second = sandbox.Lumen(SmallNode({"start", "--address=" + address, "--num-cpus=1"}));
  INFO(second.Describe());
  REQUIRE(second.exit_code == 0);
  const std::string head_session = Sandbox::SessionDirFromOutput(head.out);
  const std::string second_session = Sandbox::SessionDirFromOutput(second.out);
  REQUIRE(!head_session.empty());
  REQUIRE(head_session != second_session);

  // Each session's file lists that node's daemons.
  std::map<std::string, std::string> head_targets = Targets(head_session);
  std::map<std::string, std::string> second_targets = Targets(second_session);
  CHECK(head_targets.size() == 3);
  CHECK(head_targets.count("gcs") == 1);
  CHECK(head_targets.count("raylet") == 1);
  CHECK(head_targets.count("plasma") == 1);
  CHECK(second_targets.size() == 2);
  CHECK(second_targets.count("gcs") == 0);

  // Every endpoint answers in the text format, and promtool accepts it.
  const std::string promtool = FindPromtool();
  std::vector<std::pair<std::string, std::string>> all;
  for (auto& [component, target] : head_targets) all.emplace_back("head " + component, target);
  for (auto& [component, target] : second_targets) all.emplace_back("second " + component, target);
  for (const auto& [name, target] : all) {
    const size_t colon = target.rfind(':');
    std::string text = HttpGet(target.substr(0, colon), std::stoi(target.substr(colon + 1)), "/metrics");
    INFO(name << " at " << target << ":\n" << text);
    REQUIRE(Has(text, "# TYPE "));
    if (promtool.empty()) {
      WARN("promtool is not installed (Debian package prometheus): skipping its check of " << name);
      continue;
    }
    const std::string file = sandbox.root() + "/scrape.txt";
    std::ofstream(file) << text;
    CommandResult check = sandbox.Run({"/bin/sh", "-c", promtool + " check metrics < " + file});
    INFO(check.Describe());
    CHECK(check.exit_code == 0);
  }
  CHECK(Has(HttpGet("127.0.0.1", std::stoi(head_targets["gcs"].substr(head_targets["gcs"].rfind(':') + 1)),
                    "/metrics"),
            "ray_cluster_nodes{State=\"ALIVE\"} 2"));

  // A driver runs tasks and records user metrics.
  const int kTasks = 30;
  CommandResult driver =
      sandbox.Run({Sandbox::BinDir() + "/metrics_driver", std::to_string(kTasks),
                   "--ray_code_search_path=" + std::string(LUMEN_JOIN_TASKS_LIB)},
                  {{"RAY_ADDRESS", address}}, 120000);
  INFO(driver.Describe());
  REQUIRE(driver.exit_code == 0);
  CHECK(Has(driver.out, "tasks=30"));
  CHECK(Has(driver.out, "failed_task=yes"));

  if (::access("/usr/bin/prometheus", X_OK) != 0) {
    WARN("prometheus is not installed (Debian package prometheus): skipping the scrape by a server");
    return;
  }
  const int prometheus_port = Sandbox::FreePort();
  const std::string config = sandbox.root() + "/prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                           "scrape_configs:\n  - job_name: lumen\n    file_sd_configs:\n"
                           "      - refresh_interval: 1s\n        files:\n"
                        << "          - " << head_session << "/metrics/prom_metrics_service_discovery.json\n"
                        << "          - " << second_session << "/metrics/prom_metrics_service_discovery.json\n";
  pid_t prometheus = sandbox.Spawn(
      "prometheus", {"/usr/bin/prometheus", "--config.file=" + config,
                     "--storage.tsdb.path=" + sandbox.root() + "/tsdb",
                     "--web.listen-address=127.0.0.1:" + std::to_string(prometheus_port)});
  REQUIRE(prometheus > 0);
  double up = -1, tasks = -1, failed = -1, requests = -1, depth = -1, latency = -1;
  const bool scraped = WaitUntil(
      [&] {
        up = Query(prometheus_port, "sum(up{job=\"lumen\"})");
        tasks = Query(prometheus_port, "sum(ray_tasks{State=\"FINISHED\"})");
        failed = Query(prometheus_port, "sum(ray_tasks{State=\"FAILED\",Name=~\".*OnlyInDriver.*\"})");
        requests = Query(prometheus_port, "ray_metrics_test_requests_total{route=\"/x\"}");
        depth = Query(prometheus_port, "ray_metrics_test_depth{queue=\"q\\\"1\"}");
        latency = Query(prometheus_port, "ray_metrics_test_latency_count{route=\"/x\"}");
        return up == 5 && tasks >= kTasks && failed == 1 && requests == 3 && depth == 7 && latency == 2;
      },
      kDeadlineMs, 500);
  INFO("up=" << up << " tasks=" << tasks << " failed=" << failed << " requests=" << requests << " depth=" << depth
             << " latency_count=" << latency << "\n"
             << ReadFile(sandbox.root() + "/prometheus.out"));
  CHECK(scraped);
  // Both nodes' raylets are among the targets that are up.
  CHECK(Query(prometheus_port, "count(up{job=\"lumen\",component=\"raylet\"} == 1)") == 2);
  CHECK(Query(prometheus_port, "sum(ray_resources{Name=\"CPU\"})") == 3);
  // Every task the driver submitted ended: none is left PENDING.
  // (A series whose net change between two reports was 0 was never sent:
  // absent, -1 here.)
  const double pending = Query(prometheus_port, "sum(ray_tasks{State=\"PENDING\"})");
  CHECK((pending == 0 || pending == -1));
  // The driver's tasks ran in workers the head's raylet started.
  CHECK(Query(prometheus_port, "sum(ray_worker_pool_started_total)") >= 1);
  const double start_failures = Query(prometheus_port, "sum(ray_worker_pool_start_failures_total)");
  INFO(ReadFile(head_session + "/logs/raylet.out"));
  CHECK(start_failures == 0);
  CHECK(Query(prometheus_port,
              "count(ray_grpc_server_req_latency_seconds_count{Method=\"GcsService.RegisterNode\"})") == 1);
  CHECK(sandbox.Lumen({"stop"}).exit_code == 0);
}

}  // namespace
}  // namespace lumen::testing
