// tests/metrics_scrape.h
//
// Reading a node's Prometheus endpoints in integration tests
// (docs/metrics.md): a plain HTTP GET, the targets of a session's
// service-discovery file, and the sum of a metric's samples in a scrape.
// Header-only; blocking calls with a 10 s receive timeout.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/harness.h"

namespace lumen::testing {

// The body of GET http://host:port<path> ("" on any failure or non-200).
inline std::string HttpGet(const std::string& host, int port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  ::inet_pton(AF_INET, host.c_str(), &addr.sin_addr);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + host + "\r\n\r\n";
    if (::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size())) {
      char buf[65536];
      ssize_t n;
      while ((n = ::read(fd, buf, sizeof(buf))) > 0) response.append(buf, n);
    }
  }
  ::close(fd);
  const size_t body = response.find("\r\n\r\n");
  if (response.rfind("HTTP/1.", 0) != 0 || response.find(" 200 ") > 12 || body == std::string::npos) {
    return "";
  }
  return response.substr(body + 4);
}

// The targets ("ip:port") by component of a service-discovery file.
inline std::map<std::string, std::string> Targets(const std::string& session_dir) {
  std::map<std::string, std::string> out;
  std::string text = ReadFile(session_dir + "/metrics/prom_metrics_service_discovery.json");
  auto entries = nlohmann::json::parse(text, nullptr, false);
  if (!entries.is_array()) return out;
  for (const auto& entry : entries) {
    out[entry["labels"].value("component", "")] = entry["targets"][0].get<std::string>();
  }
  return out;
}

// GET /metrics of `component` ("raylet", "gcs", "plasma") of the node with
// `session_dir` ("" when it is not listed or does not answer).
inline std::string Scrape(const std::string& session_dir, const std::string& component) {
  const std::string target = Targets(session_dir)[component];
  const size_t colon = target.rfind(':');
  if (colon == std::string::npos) return "";
  return HttpGet(target.substr(0, colon), std::stoi(target.substr(colon + 1)), "/metrics");
}

// The sum of the samples of `name` (exactly: not `name_bucket`) whose labels
// contain `label` (e.g. `Type="Received"`; "" for any); -1 when none.
inline double SampleSum(const std::string& text, const std::string& name, const std::string& label = "") {
  std::istringstream lines(text);
  double sum = -1;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind(name, 0) != 0 || line.size() <= name.size()) continue;
    const char next = line[name.size()];
    if (next != '{' && next != ' ') continue;
    if (!label.empty() && line.find(label) == std::string::npos) continue;
    sum = (sum < 0 ? 0 : sum) + std::stod(line.substr(line.rfind(' ') + 1));
  }
  return sum;
}

}  // namespace lumen::testing
