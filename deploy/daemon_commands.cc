#include "deploy/daemon_commands.h"

#include <cmath>
#include <cstdio>

#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "common/paths.h"
#include "common/status.h"
#include "common/worker_ports.h"

namespace lumen::deploy {

absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& address) {
  const size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 1 || port > 65535) {
    return absl::InvalidArgumentError("bad address \"" + address + "\": expected HOST:PORT");
  }
  return std::make_pair(address.substr(0, colon), port);
}

absl::Status ValidateNodeOptions(const NodeOptions& options) {
  if (options.head && !options.gcs_address.empty()) {
    return absl::InvalidArgumentError("a head node starts its own GCS; do not give an address");
  }
  if (!options.head) {
    if (options.gcs_address.empty()) {
      return absl::InvalidArgumentError("a worker node needs the GCS address (--address HOST:PORT)");
    }
    if (auto hp = SplitHostPort(options.gcs_address); !hp.ok()) return hp.status();
    if (!options.redis_address.empty()) {
      return absl::InvalidArgumentError("--redis-address is for the head node only");
    }
  }
  if (options.head && (options.port < 0 || options.port > 65535)) {
    return absl::InvalidArgumentError("--port must be 0..65535, got " + std::to_string(options.port));
  }
  if (options.raylet_port < 0 || options.raylet_port > 65535) {
    return absl::InvalidArgumentError("--node-manager-port must be 0..65535, got " +
                                      std::to_string(options.raylet_port));
  }
  if (options.object_manager_port < 0 || options.object_manager_port > 65535) {
    return absl::InvalidArgumentError("--object-manager-port must be 0..65535, got " +
                                      std::to_string(options.object_manager_port));
  }
  if (options.object_manager_port != 0 && options.object_manager_port == options.raylet_port) {
    return absl::InvalidArgumentError("--object-manager-port and --node-manager-port must differ");
  }
  RETURN_IF_ERROR(CheckWorkerPortRange(options.min_worker_port, options.max_worker_port));
  // The raylet counts whole CPUs and GPUs per node (tasks may ask for fractions).
  for (const auto& [flag, value] : {std::make_pair("--num-cpus", options.num_cpus),
                                    std::make_pair("--num-gpus", options.num_gpus)}) {
    if (value && (*value < 0 || *value > 1e6 || std::floor(*value) != *value)) {
      return absl::InvalidArgumentError(std::string(flag) + " must be a whole number >= 0, got " +
                                        FormatNumber(*value));
    }
  }
  if (options.num_cpus) RETURN_IF_ERROR(ValidateResource("CPU", *options.num_cpus));
  if (options.num_gpus) RETURN_IF_ERROR(ValidateResource("GPU", *options.num_gpus));
  if (options.object_store_memory && *options.object_store_memory <= 0) {
    return absl::InvalidArgumentError("--object-store-memory must be a positive number of bytes");
  }
  if (!options.redis_address.empty()) {
    if (auto hp = SplitHostPort(options.redis_address); !hp.ok()) {
      return absl::InvalidArgumentError("--redis-address: " + std::string(hp.status().message()));
    }
  }
  if (!options.redis_password.empty() && !options.redis_password_file.empty()) {
    return absl::InvalidArgumentError(
        "give the Redis password once: --redis-password or --redis-password-file");
  }
  if ((!options.redis_password.empty() || !options.redis_password_file.empty()) &&
      options.redis_address.empty()) {
    return absl::InvalidArgumentError("a Redis password needs --redis-address");
  }
  if (auto resources = ParseResourcesJson(options.resources_json); !resources.ok()) {
    return resources.status();
  }
  return absl::OkStatus();
}

SessionFiles FilesOfSession(const std::string& session_dir) {
  SessionFiles f;
  f.session_dir = session_dir;
  f.gcs_port_file = session_dir + "/gcs_port";
  f.raylet_port_file = session_dir + "/raylet_port";
  f.plasma_socket = session_dir + "/sockets/plasma.sock";
  f.gcs_log = session_dir + "/logs/gcs.out";
  f.plasma_log = session_dir + "/logs/plasma.out";
  f.raylet_log = session_dir + "/logs/raylet.out";
  f.pids_file = session_dir + "/pids";
  return f;
}

std::string AddressToOpen(const std::string& bind_host, const std::string& node_ip, int port) {
  const bool every_interface = bind_host.empty() || bind_host == "0.0.0.0" || bind_host == "::";
  const std::string host = every_interface ? node_ip : bind_host;
  const bool ipv6 = host.find(':') != std::string::npos;
  return (ipv6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

std::string FormatNumber(double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.10g", value);
  return buf;
}

std::vector<std::string> GcsArgv(const std::string& binary, const NodeOptions& options,
                                 const SessionFiles& files, const std::string& node_ip) {
  std::vector<std::string> argv = {binary,        "--port", std::to_string(options.port),
                                   "--port-file", files.gcs_port_file,
                                   "--host",      node_ip};
  if (options.metrics_export_port >= 0) {
    argv.insert(argv.end(), {"--metrics-export-port", "0", "--session-dir", files.session_dir});
  }
  if (!options.redis_address.empty()) {
    argv.insert(argv.end(), {"--redis-address", options.redis_address});
    // The password itself goes in the environment (launcher.cc): ps shows argv.
    if (!options.redis_password_file.empty()) {
      argv.insert(argv.end(), {"--redis-password-file", options.redis_password_file});
    }
  }
  return argv;
}

std::vector<std::string> PlasmaArgv(const std::string& binary, const NodeOptions& options,
                                    const SessionFiles& files) {
  std::vector<std::string> argv = {binary, "--socket", files.plasma_socket};
  if (options.metrics_export_port >= 0) {
    argv.insert(argv.end(), {"--metrics-export-port", "0", "--session-dir", files.session_dir,
                             "--node-ip-address",
                             options.node_ip.empty() ? DefaultNodeIp() : options.node_ip});
  }
  if (options.object_store_memory) {
    argv.insert(argv.end(), {"--object-store-memory", std::to_string(*options.object_store_memory)});
  }
  return argv;
}

std::vector<std::string> RayletArgv(const std::string& binary, const NodeOptions& options,
                                    const SessionFiles& files, const std::string& gcs_address,
                                    const std::string& node_ip,
                                    const std::map<std::string, double>& resources) {
  std::vector<std::string> argv = {binary,
                                   "--gcs-address", gcs_address,
                                   "--port", std::to_string(options.raylet_port),
                                   "--port-file", files.raylet_port_file,
                                   "--node-ip-address", node_ip,
                                   "--plasma-socket", files.plasma_socket,
                                   "--session-dir", files.session_dir,
                                   "--gcs-connect-timeout-s",
                                   std::to_string(std::max(1, options.startup_timeout_ms / 1000))};
  if (options.num_cpus) argv.insert(argv.end(), {"--num-cpus", FormatNumber(*options.num_cpus)});
  if (options.num_gpus) argv.insert(argv.end(), {"--num-gpus", FormatNumber(*options.num_gpus)});
  if (!resources.empty()) argv.insert(argv.end(), {"--resources", nlohmann::json(resources).dump()});
  if (options.object_store_memory) {
    argv.insert(argv.end(), {"--object-store-memory", std::to_string(*options.object_store_memory)});
  }
  if (options.object_manager_port != 0) {
    argv.insert(argv.end(), {"--object-manager-port", std::to_string(options.object_manager_port)});
  }
  if (options.min_worker_port != 0) {
    argv.insert(argv.end(), {"--min-worker-port", std::to_string(options.min_worker_port),
                             "--max-worker-port", std::to_string(options.max_worker_port)});
  }
  if (options.metrics_export_port >= 0) {
    argv.insert(argv.end(), {"--metrics-export-port", std::to_string(options.metrics_export_port)});
  }
  if (options.head) argv.push_back("--head");
  return argv;
}

}  // namespace lumen::deploy
