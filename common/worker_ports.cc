#include "common/worker_ports.h"

#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"

namespace lumen {

absl::Status CheckWorkerPortRange(int min_port, int max_port) {
  if (min_port == 0 && max_port == 0) return absl::OkStatus();
  if (min_port == 0 || max_port == 0) {
    return absl::InvalidArgumentError("give both --min-worker-port and --max-worker-port, or neither");
  }
  if (min_port < 1 || max_port > 65535 || min_port > max_port) {
    return absl::InvalidArgumentError("--min-worker-port " + std::to_string(min_port) + " and --max-worker-port " +
                                      std::to_string(max_port) + " must satisfy 1 <= min <= max <= 65535");
  }
  if (max_port - min_port + 1 < kPortsPerWorker) {
    return absl::InvalidArgumentError("the worker port range " + std::to_string(min_port) + "-" +
                                      std::to_string(max_port) +
                                      " holds 1 port; a worker binds 2 (its gRPC server and its task channel)");
  }
  return absl::OkStatus();
}

std::string FormatWorkerPorts(const WorkerPorts& ports) {
  return std::to_string(ports.grpc) + "," + std::to_string(ports.task_channel);
}

absl::StatusOr<WorkerPorts> ParseWorkerPorts(const std::string& text) {
  WorkerPorts ports;
  if (text.empty()) return ports;
  std::vector<std::string> parts = absl::StrSplit(text, ',');
  if (parts.size() != 2 || !absl::SimpleAtoi(parts[0], &ports.grpc) ||
      !absl::SimpleAtoi(parts[1], &ports.task_channel) || ports.grpc < 0 || ports.grpc > 65535 ||
      ports.task_channel < 0 || ports.task_channel > 65535) {
    return absl::InvalidArgumentError(std::string(kWorkerPortsEnv) + " must be \"GRPC_PORT,TASK_PORT\", got \"" +
                                      text + "\"");
  }
  return ports;
}

}  // namespace lumen
