// deploy/daemon_commands.h
//
// Pure helpers of the launcher: validating NodeOptions, and turning them into
// the command lines of lumen-gcs, lumen-plasma and lumen-raylet (the daemons'
// flag contracts are documented in their main.cc). No I/O, no clocks: every
// function here is unit tested in daemon_commands_test.cc. Thread-safe.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "common/resources.h"
#include "deploy/launcher.h"

namespace lumen::deploy {

// Parses --resources, e.g. {"special_hardware": 1}: common/resources.h, the
// one parser, shared with the raylet's --resources.
using ::lumen::ParseResourcesJson;

// Splits "host:port"; InvalidArgument unless the port is 1..65535.
absl::StatusOr<std::pair<std::string, int>> SplitHostPort(const std::string& address);

// Checks every field of `options` that can be checked without I/O.
absl::Status ValidateNodeOptions(const NodeOptions& options);

// Files of one node inside its session directory.
struct SessionFiles {
  std::string session_dir;
  std::string gcs_port_file;
  std::string raylet_port_file;
  std::string plasma_socket;
  std::string gcs_log;
  std::string plasma_log;
  std::string raylet_log;
  std::string pids_file;
};
SessionFiles FilesOfSession(const std::string& session_dir);

std::vector<std::string> GcsArgv(const std::string& binary, const NodeOptions& options,
                                 const SessionFiles& files, const std::string& node_ip);
std::vector<std::string> PlasmaArgv(const std::string& binary, const NodeOptions& options,
                                    const SessionFiles& files);
// `resources` is the parsed --resources map (re-serialized canonically).
std::vector<std::string> RayletArgv(const std::string& binary, const NodeOptions& options,
                                    const SessionFiles& files, const std::string& gcs_address,
                                    const std::string& node_ip,
                                    const std::map<std::string, double>& resources);

// The "host:port" a user opens for a server bound to `bind_host`:port: the
// node's address when it is bound to every interface ("0.0.0.0", "::" or
// empty), else `bind_host` itself (bracketed when IPv6).
std::string AddressToOpen(const std::string& bind_host, const std::string& node_ip, int port);

// Formats a double the way flags expect it ("4", "0.5").
std::string FormatNumber(double value);

}  // namespace lumen::deploy
