// common/worker_ports.h
//
// The worker port range of a node (`lumen start --min-worker-port A
// --max-worker-port B`, the raylet's flags of the same names): the raylet
// hands every worker it starts two ports of [A, B], one for its gRPC server
// and one for its task channel, in the environment variable
// LUMEN_WORKER_PORTS ("GRPC,TASK"); the worker binds exactly those. Without
// a range (both 0) the variable is not set and workers bind free ports.
// Pure functions; thread-safe.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace lumen {

inline constexpr int kPortsPerWorker = 2;
inline constexpr char kWorkerPortsEnv[] = "LUMEN_WORKER_PORTS";

// OK for both 0 (no range) or 1 <= min <= max <= 65535 holding at least
// kPortsPerWorker ports; otherwise InvalidArgument naming the flags.
absl::Status CheckWorkerPortRange(int min_port, int max_port);

struct WorkerPorts {
  int grpc = 0;          // 0: any free port.
  int task_channel = 0;  // 0: any free port.
};

std::string FormatWorkerPorts(const WorkerPorts& ports);
// Parses FormatWorkerPorts' output; "" gives {0, 0}.
absl::StatusOr<WorkerPorts> ParseWorkerPorts(const std::string& text);

}  // namespace lumen
