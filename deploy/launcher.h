// deploy/launcher.h
//
// The cluster launcher: starts the daemons of one node (lumen-gcs on a head,
// then lumen-plasma and lumen-raylet) as child processes, waits until the
// node is registered with the GCS, and stops them again. Used by the `lumen`
// CLI (`lumen start`, `lumen stop`) and by the worker library, whose
// `ray::Init()` without an address starts a private local cluster with
// `die_with_parent = true` and stops it at `Shutdown()`.
//
// Ownership: StartNode returns a StartedNode that only *describes* what was
// started (pids, addresses); nothing is stopped when it goes out of scope.
// The daemons run in their own process groups and outlive the caller unless
// `die_with_parent` is set or StopNode is called.
// Threading: every function blocks and may be called from any thread; two
// concurrent StartNode calls must use different ports.
// Failure: bad options give InvalidArgument before anything starts; a daemon
// that does not come up gives an error naming it, with the tail of its log,
// after everything this call started has been killed again.
// Files: see common/paths.h and docs/operations.md. The session directory
// and every file in it are the user's only (0700 / 0600).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace lumen::deploy {

struct NodeOptions {
  // true: start a GCS here (a head node). false: join `gcs_address`.
  bool head = false;
  // "host:port" of the cluster's GCS; required when !head.
  std::string gcs_address;
  // The GCS port of a head; 0 picks a free one.
  int port = 6379;
  // Resources of this node; unset lets the raylet detect them.
  std::optional<double> num_cpus;
  std::optional<double> num_gpus;
  // Custom resources as a JSON object, e.g. {"special_hardware": 1}.
  std::string resources_json;
  // Bytes for the plasma store; unset lets plasma choose (30% of RAM).
  std::optional<int64_t> object_store_memory;
  // Head only: persist GCS tables in Redis ("host:port") so a restarted GCS
  // recovers them. Empty: in memory.
  std::string redis_address;
  // Its password, handed to the GCS in its environment (LUMEN_REDIS_PASSWORD),
  // never on its command line; or a file holding it (owner-only), which the
  // GCS reads itself. At most one of the two.
  std::string redis_password;
  std::string redis_password_file;
  // Root of session directories; empty: DefaultTempDir().
  std::string temp_dir;
  // Where the cluster token is read from (empty: LUMEN_TOKEN, ~/.lumen/token;
  // a head creates ~/.lumen/token when there is none).
  std::string token_file;
  // The IP other nodes reach this node at; empty: DefaultNodeIp(). The GCS
  // of a head listens on this address.
  std::string node_ip;
  // The raylet's gRPC port (--node-manager-port); 0 picks a free one.
  int raylet_port = 0;
  // The raylet's object data port (--object-manager-port: object bytes to
  // other nodes, raylet/object_data.h); 0 picks a free one. Unused under TLS,
  // where object bytes travel in the raylet's gRPC chunks.
  int object_manager_port = 0;
  // Workers' gRPC servers and task channels bind ports in [min, max] only
  // (2 per worker); both 0: any free port. Handed to the raylet.
  int min_worker_port = 0;
  int max_worker_port = 0;
  // The raylet's Prometheus endpoint (docs/metrics.md): 0 a free port, -1
  // none. The GCS and the object store always take free ports (-1: none).
  int metrics_export_port = 0;
  // Head only: start lumen-dashboard (docs/dashboard.md) listening on
  // dashboard_host:dashboard_port; 0 a free port; unset 8265, or a free port
  // when 8265 is taken. Off by default (private clusters); `lumen start
  // --head` turns it on.
  bool include_dashboard = false;
  std::string dashboard_host = "127.0.0.1";
  std::optional<int> dashboard_port;
  // Kill the daemons when the calling thread's process dies (embedded
  // clusters). Linux PDEATHSIG: tied to the thread that calls StartNode, so
  // call it from a thread that lives as long as the cluster should.
  bool die_with_parent = false;
  // Non-zero: the daemons stop (gracefully) as soon as this process exits,
  // however it exits, SIGKILL included (common/fate_share.h).
  pid_t fate_share_pid = 0;
  // Added to every daemon's environment.
  std::map<std::string, std::string> extra_env;
  // Head only: record the GCS address in <temp-dir>/lumen_current_cluster so
  // `lumen status` and drivers find it. Private embedded clusters say false.
  bool write_current_cluster = true;
  // How long to wait for each daemon to come up.
  int startup_timeout_ms = 10000;
  // Rotation of the daemons' and workers' .out files (common/log_rotation.h);
  // unset: $LUMEN_ROTATION_MAX_BYTES / _BACKUP_COUNT (or Ray's names), else
  // 512 MiB and 5 backups. Handed to the raylet for its workers.
  std::optional<int64_t> log_rotation_max_bytes;
  std::optional<int> log_rotation_backup_count;
};

struct StartedNode {
  std::string session_dir;
  std::string gcs_address;     // "ip:port" of the cluster's GCS.
  std::string raylet_address;  // "ip:port" of this node's raylet.
  std::string plasma_socket;
  std::string token;
  std::string node_id_hex;     // As registered with the GCS.
  std::string dashboard_address;  // "host:port" of lumen-dashboard; empty: none.
  // ("gcs" | "plasma" | "raylet", pid), in start order.
  std::vector<std::pair<std::string, pid_t>> daemons;
};

// Validates `options`, starts the node's daemons and waits until the raylet
// is registered with the GCS. On a head also writes lumen_current_cluster.
absl::StatusOr<StartedNode> StartNode(const NodeOptions& options);

// Stops the daemons of `node`, raylet first. Graceful: SIGTERM to each
// process group, up to ~5 s, then SIGKILL. `force`: SIGKILL at once. A head's
// lumen_current_cluster record goes too while it still names this node.
void StopNode(const StartedNode& node, bool force);

// Removes the session directory of a stopped `node` (and session_latest
// when it points there).
void RemoveSessionDir(const StartedNode& node);

// lumen-dashboard's port when none is given (Ray's).
inline constexpr int kDefaultDashboardPort = 8265;

// Session directories kept under a temp dir: StartNode removes the oldest
// beyond this number, except those whose daemons still run.
inline constexpr size_t kSessionDirsKept = 10;
// Removes session_* directories of `temp_dir` beyond the `keep` newest whose
// recorded daemons are all gone. Returns how many were removed.
int PruneSessionDirs(const std::string& temp_dir, size_t keep);

// Stops every Lumen process of the current user on this machine: the
// daemons (identified by their executable and owner, see
// deploy/local_processes.h; pid files are not trusted) and the workers of
// their sessions. A non-empty `temp_dir` limits it to the processes of the
// sessions under that directory. Removes lumen_current_cluster from the temp
// dirs whose GCS it stopped (and from `temp_dir`, or the default one) when
// they are the user's own. Returns how many processes were stopped.
int StopAllLocal(const std::string& temp_dir, bool force);

}  // namespace lumen::deploy
