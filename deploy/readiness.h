// deploy/readiness.h
//
// How the launcher learns that a daemon it started is up: a port file that
// the daemon writes once it listens, a Unix socket that appears, or the node
// showing up in the GCS node table. Every wait is bounded and gives up early
// when the daemon's process exits; errors carry the tail of its log so the
// user sees why. Thread-safe; each call blocks up to its timeout.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/gcs.pb.h"

namespace lumen::deploy {

struct StartedNode;  // deploy/launcher.h

// The last `max_lines` lines of the file at `path` (empty if unreadable).
std::string TailOfFile(const std::string& path, int max_lines);

// What the launcher knows about a daemon while it waits for it.
struct WatchedDaemon {
  std::string name;  // "gcs", "plasma", "raylet".
  pid_t pid = 0;
  std::string log_file;
};

// Waits until `port_file` holds a port number; fails when `daemon` exits,
// after `timeout_ms`, or at once when the file fails ReadOwnedPrivateFile's
// check (common/paths.h).
absl::StatusOr<int> WaitForPortFile(const std::string& port_file, const WatchedDaemon& daemon,
                                    int timeout_ms);

// Waits until the Unix socket at `path` exists.
absl::Status WaitForSocket(const std::string& path, const WatchedDaemon& daemon, int timeout_ms);

// Asks the GCS at `address` for its node table. `timeout_ms` bounds the call.
// FailedPrecondition, saying so, when `address` answers gRPC but is no GCS.
absl::StatusOr<std::vector<rpc::NodeInfo>> GetAllNodes(const std::string& address,
                                                       const std::string& token, int timeout_ms);

// Waits until the GCS lists an alive node whose raylet is ip:raylet_port.
absl::StatusOr<rpc::NodeInfo> WaitForNodeRegistered(const std::string& gcs_address,
                                                    const std::string& token,
                                                    const std::string& ip, int raylet_port,
                                                    const WatchedDaemon& raylet, int timeout_ms);

// Whether every daemon of `node` answers now, each within `timeout_ms`: on
// a head the GCS lists the node as alive, the raylet answers its
// HealthCheck RPC, the plasma store's socket is there. OK,
// or Unavailable naming the first daemon that does not answer. Used for
// systemd's READY=1 and watchdog pings (deploy/cli/foreground.cc).
absl::Status ProbeNode(const StartedNode& node, int timeout_ms);

// One line for a failed daemon: "<name> exited during startup" plus its log
// tail. When the daemon is gone, first waits (briefly) until its log writer
// has written all its output (common/log_rotation.h).
std::string DescribeDaemonFailure(const WatchedDaemon& daemon, const std::string& what);

}  // namespace lumen::deploy
