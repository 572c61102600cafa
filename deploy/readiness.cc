#include "deploy/readiness.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "common/id.h"
#include "common/log_rotation.h"
#include "common/paths.h"
#include "common/process.h"
#include "common/rpc/client.h"
#include "deploy/launcher.h"
#include "proto/gcs.grpc.pb.h"
#include "proto/raylet.grpc.pb.h"

namespace lumen::deploy {
namespace {

using Clock = std::chrono::steady_clock;

Clock::time_point DeadlineIn(int timeout_ms) {
  return Clock::now() + std::chrono::milliseconds(timeout_ms);
}

void Pause() { std::this_thread::sleep_for(std::chrono::milliseconds(20)); }

}  // namespace

std::string TailOfFile(const std::string& path, int max_lines) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (static_cast<int>(lines.size()) > max_lines) lines.pop_front();
  }
  std::string tail;
  for (const auto& l : lines) tail += "\n    " + l;
  return tail;
}

std::string DescribeDaemonFailure(const WatchedDaemon& daemon, const std::string& what) {
  const std::string program = "lumen-" + daemon.name;
  if (!ProcessAlive(daemon.pid)) WaitForLogWriter(daemon.log_file, 2000);
  const std::string tail = TailOfFile(daemon.log_file, 15);
  // Daemons print their fatal error as one "lumen-<name>: ..." line: quote
  // just that when it is there, else the end of the log.
  const size_t own = tail.rfind("\n    " + program + ": ");
  if (own != std::string::npos) {
    const size_t start = own + 5 + program.size() + 2;
    const size_t end = tail.find('\n', start);
    return program + " " + what + ": " + tail.substr(start, end - start) + " (log: " +
           daemon.log_file + ")";
  }
  if (tail.empty()) return program + " " + what + " (log: " + daemon.log_file + ")";
  return program + " " + what + "; last lines of " + daemon.log_file + ":" + tail;
}

absl::StatusOr<int> WaitForPortFile(const std::string& port_file, const WatchedDaemon& daemon,
                                    int timeout_ms) {
  const auto deadline = DeadlineIn(timeout_ms);
  while (Clock::now() < deadline) {
    absl::StatusOr<std::string> text = ReadOwnedPrivateFile(port_file);
    int port = 0;
    if (text.ok() && absl::SimpleAtoi(text->substr(0, text->find('\n')), &port) && port > 0) {
      return port;
    }
    if (!text.ok() && !absl::IsNotFound(text.status())) return text.status();
    if (!ProcessAlive(daemon.pid)) {
      return absl::UnavailableError(DescribeDaemonFailure(daemon, "exited during startup"));
    }
    Pause();
  }
  return absl::DeadlineExceededError(DescribeDaemonFailure(
      daemon, "did not write its port file within " + std::to_string(timeout_ms / 1000) + " s"));
}

absl::Status WaitForSocket(const std::string& path, const WatchedDaemon& daemon, int timeout_ms) {
  const auto deadline = DeadlineIn(timeout_ms);
  while (Clock::now() < deadline) {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) return absl::OkStatus();
    if (!ProcessAlive(daemon.pid)) {
      return absl::UnavailableError(DescribeDaemonFailure(daemon, "exited during startup"));
    }
    Pause();
  }
  return absl::DeadlineExceededError(DescribeDaemonFailure(
      daemon, "did not create " + path + " within " + std::to_string(timeout_ms / 1000) + " s"));
}

absl::StatusOr<std::vector<rpc::NodeInfo>> GetAllNodes(const std::string& address,
                                                       const std::string& token, int timeout_ms) {
  rpc::RpcClient<rpc::GcsService> client(address, token);
  auto reply = client.CallSync(&rpc::GcsService::Stub::GetAllNodes, rpc::GetAllNodesRequest(),
                               timeout_ms);
  if (absl::IsUnimplemented(reply.status())) {
    // Something gRPC answers there, without a GCS: a raylet's port, say.
    return absl::FailedPreconditionError(
        address + " is not a GCS (it answers gRPC but has no GCS service: a raylet's port?); "
                  "use the GCS address that `lumen start --head` printed");
  }
  if (!reply.ok()) return reply.status();
  return std::vector<rpc::NodeInfo>(reply->nodes().begin(), reply->nodes().end());
}

absl::Status ProbeNode(const StartedNode& node, int timeout_ms) {
  for (const auto& [name, pid] : node.daemons) {
    if (name != "gcs") continue;
    auto nodes = GetAllNodes(node.gcs_address, node.token, timeout_ms);
    if (!nodes.ok()) {
      return absl::UnavailableError("lumen-gcs at " + node.gcs_address +
                                    " does not answer: " + std::string(nodes.status().message()));
    }
    bool listed = false;
    for (const auto& info : *nodes) {
      const auto& id = info.node_id();
      listed |= BytesToHex(reinterpret_cast<const uint8_t*>(id.data()), id.size()) ==
                    node.node_id_hex && info.state() == rpc::NodeInfo::ALIVE;
    }
    if (!listed) {
      return absl::UnavailableError("lumen-gcs does not list this node (" + node.node_id_hex +
                                    ") as alive");
    }
  }
  rpc::RpcClient<rpc::RayletService> raylet(node.raylet_address, node.token);
  auto health = raylet.CallSync(&rpc::RayletService::Stub::HealthCheck, rpc::HealthCheckRequest(),
                                timeout_ms);
  if (!health.ok()) {
    return absl::UnavailableError("lumen-raylet at " + node.raylet_address +
                                  " does not answer: " + std::string(health.status().message()));
  }
  // The store is not asked anything (a client that connects and leaves is
  // a warning in its log): its process and its socket are there, and the
  // raylet, which answered, holds a connection to it.
  struct stat st;
  if (::stat(node.plasma_socket.c_str(), &st) != 0 || !S_ISSOCK(st.st_mode)) {
    return absl::UnavailableError("lumen-plasma's socket " + node.plasma_socket + " is gone");
  }
  return absl::OkStatus();
}

absl::StatusOr<rpc::NodeInfo> WaitForNodeRegistered(const std::string& gcs_address,
                                                    const std::string& token,
                                                    const std::string& ip, int raylet_port,
                                                    const WatchedDaemon& raylet, int timeout_ms) {
  const auto deadline = DeadlineIn(timeout_ms);
  absl::Status last = absl::OkStatus();
  while (Clock::now() < deadline) {
    auto nodes = GetAllNodes(gcs_address, token, 2000);
    if (nodes.ok()) {
      for (const auto& node : *nodes) {
        if (node.raylet_port() == raylet_port && node.ip() == ip &&
            node.state() == rpc::NodeInfo::ALIVE) {
          return node;
        }
      }
    } else {
      last = nodes.status();
      if (absl::IsUnauthenticated(last)) return last;
    }
    if (!ProcessAlive(raylet.pid)) {
      return absl::UnavailableError(DescribeDaemonFailure(raylet, "exited during startup"));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string why = last.ok() ? "" : " (last GCS error: " + std::string(last.message()) + ")";
  return absl::DeadlineExceededError(DescribeDaemonFailure(
      raylet, "did not register with the GCS at " + gcs_address + " within " +
                  std::to_string(timeout_ms / 1000) + " s" + why));
}

}  // namespace lumen::deploy
