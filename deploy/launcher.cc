#include "deploy/launcher.h"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <set>

#include "common/fate_share.h"
#include "common/log_rotation.h"
#include "common/net.h"
#include "common/paths.h"
#include "common/process.h"
#include "common/rpc/auth.h"
#include "common/status.h"
#include "deploy/daemon_commands.h"
#include "deploy/local_processes.h"
#include "deploy/readiness.h"
#include "plasma/shm_segment.h"

namespace fs = std::filesystem;

namespace lumen::deploy {
namespace {

constexpr int kStopGraceMs = 5000;

// Starts daemons one after the other and remembers them, so a failure
// half-way can take back everything started so far.
class NodeStarter {
 public:
  NodeStarter(const NodeOptions& options, std::string token, SessionFiles files,
              LogRotation rotation)
      : options_(options), token_(std::move(token)), files_(std::move(files)),
        rotation_(rotation) {
    node_.session_dir = files_.session_dir;
    node_.plasma_socket = files_.plasma_socket;
    node_.token = token_;
  }

  // Starts lumen-<name> with `argv` and `env` added to its environment,
  // logging to `log_file`.
  absl::StatusOr<WatchedDaemon> Start(const std::string& name, std::vector<std::string> argv,
                                      const std::string& log_file,
                                      const std::map<std::string, std::string>& env = {}) {
    ProcessOptions process;
    process.argv = std::move(argv);
    process.env = options_.extra_env;
    for (const auto& [key, value] : env) process.env[key] = value;
    for (const auto& [key, value] : LogRotationEnv(rotation_)) process.env[key] = value;
    process.env["LUMEN_TOKEN"] = token_;
    if (options_.fate_share_pid > 0) {
      process.env[kFateSharePidEnv] = std::to_string(options_.fate_share_pid);
    }
    process.log_file = log_file;
    process.log_rotation = rotation_;
    process.die_with_parent = options_.die_with_parent;
    process.parent_death_signal = SIGTERM;  // A graceful stop: sockets removed.
    ASSIGN_OR_RETURN(pid_t pid, StartProcess(process));
    node_.daemons.emplace_back(name, pid);
    if (absl::Status s = AppendPidsFile(files_.pids_file, name, pid); !s.ok()) return s;
    return WatchedDaemon{name, pid, log_file};
  }

  // Kills everything started so far and passes `status` on.
  absl::Status Abort(absl::Status status) {
    StopNode(node_, /*force=*/true);
    return status;
  }

  StartedNode& node() { return node_; }

 private:
  const NodeOptions& options_;
  std::string token_;
  SessionFiles files_;
  LogRotation rotation_;
  StartedNode node_;
};

// Checks, before anything starts, that the cluster to join answers and
// accepts our token. Returns the address its head node advertises ("" when
// none is alive).
absl::StatusOr<std::string> CheckGcsReachable(const std::string& address, const std::string& token) {
  auto nodes = GetAllNodes(address, token, 5000);
  if (nodes.ok()) {
    for (const rpc::NodeInfo& node : *nodes) {
      if (node.is_head() && node.state() == rpc::NodeInfo::ALIVE) return node.ip();
    }
    return std::string();
  }
  if (absl::IsUnauthenticated(nodes.status())) {
    return absl::UnauthenticatedError(
        "the GCS at " + address +
        " refused our cluster token (missing or wrong cluster token); use the head's token "
        "via --token-file or LUMEN_TOKEN");
  }
  return absl::UnavailableError("cannot reach the GCS at " + address + " (" +
                                std::string(nodes.status().message()) +
                                "); is a head running there? Start one with `lumen start --head`");
}

// `gcs_host` is the address the GCS listens on: the node's, or 0.0.0.0
// for a head whose address was detected (GcsHostOf).
absl::Status StartGcs(NodeStarter& starter, const NodeOptions& options, const SessionFiles& files,
                      const std::string& node_ip, const std::string& gcs_host) {
  ASSIGN_OR_RETURN(std::string binary, FindLumenBinary("lumen-gcs"));
  // Secrets travel in the environment (readable by this user only), never
  // on a command line that every user sees in ps.
  std::map<std::string, std::string> env;
  if (!options.redis_password.empty()) env[rpc::kRedisPasswordEnv] = options.redis_password;
  // What a GCS listening on every interface advertises (its metrics target,
  // the caller of actor creation tasks).
  env["LUMEN_NODE_IP"] = node_ip;
  ASSIGN_OR_RETURN(WatchedDaemon gcs, starter.Start("gcs", GcsArgv(binary, options, files, gcs_host),
                                                    files.gcs_log, env));
  ASSIGN_OR_RETURN(int port, WaitForPortFile(files.gcs_port_file, gcs, options.startup_timeout_ms));
  starter.node().gcs_address = node_ip + ":" + std::to_string(port);
  return absl::OkStatus();
}

absl::Status StartPlasmaAndRaylet(NodeStarter& starter, const NodeOptions& options,
                                  const SessionFiles& files, const std::string& node_ip,
                                  const std::map<std::string, double>& resources) {
  ASSIGN_OR_RETURN(std::string plasma_binary, FindLumenBinary("lumen-plasma"));
  ASSIGN_OR_RETURN(std::string raylet_binary, FindLumenBinary("lumen-raylet"));
  ASSIGN_OR_RETURN(WatchedDaemon plasma,
                   starter.Start("plasma", PlasmaArgv(plasma_binary, options, files),
                                 files.plasma_log));
  RETURN_IF_ERROR(WaitForSocket(files.plasma_socket, plasma, options.startup_timeout_ms));
  const std::string gcs_address = starter.node().gcs_address;
  ASSIGN_OR_RETURN(WatchedDaemon raylet,
                   starter.Start("raylet",
                                 RayletArgv(raylet_binary, options, files, gcs_address, node_ip,
                                            resources),
                                 files.raylet_log));
  ASSIGN_OR_RETURN(int port,
                   WaitForPortFile(files.raylet_port_file, raylet, options.startup_timeout_ms));
  starter.node().raylet_address = node_ip + ":" + std::to_string(port);
  ASSIGN_OR_RETURN(rpc::NodeInfo info,
                   WaitForNodeRegistered(gcs_address, starter.node().token, node_ip, port, raylet,
                                         options.startup_timeout_ms));
  static const char kHex[] = "0123456789abcdef";
  for (unsigned char c : info.node_id()) {
    starter.node().node_id_hex += kHex[c >> 4];
    starter.node().node_id_hex += kHex[c & 15];
  }
  return absl::OkStatus();
}

// lumen-dashboard, after the raylet: its jobs' drivers need the node.
absl::Status StartDashboard(NodeStarter& starter, const NodeOptions& options,
                            const SessionFiles& files) {
  ASSIGN_OR_RETURN(std::string binary, FindLumenBinary("lumen-dashboard"));
  const int port = options.dashboard_port.value_or(kDefaultDashboardPort);
  const std::string port_file = files.session_dir + "/dashboard_port";
  const StartedNode& node = starter.node();
  std::vector<std::string> argv = {binary, "--host", options.dashboard_host, "--port",
                                   std::to_string(port), "--gcs-address", node.gcs_address,
                                   "--session-dir", files.session_dir, "--port-file", port_file,
                                   "--node-id", node.node_id_hex};
  // No port asked for: a taken 8265 (another cluster here) is no failure.
  if (!options.dashboard_port) argv.push_back("--any-port-if-taken");
  ASSIGN_OR_RETURN(WatchedDaemon dashboard,
                   starter.Start("dashboard", std::move(argv),
                                 files.session_dir + "/logs/dashboard.out"));
  ASSIGN_OR_RETURN(int bound, WaitForPortFile(port_file, dashboard, options.startup_timeout_ms));
  starter.node().dashboard_address = AddressToOpen(options.dashboard_host, options.node_ip, bound);
  return absl::OkStatus();
}

// The object store's size when none is given: plasma's default rule
// (plasma/shm_segment.h), chosen here once so that the store and the
// raylet's object_store_memory resource are the same number.
absl::StatusOr<int64_t> DefaultObjectStoreBytes() {
  ASSIGN_OR_RETURN(uint64_t shm_free, plasma::FreeBytesIn("/dev/shm"));
  ASSIGN_OR_RETURN(plasma::ArenaSize size,
                   plasma::ChooseArenaSize(0, plasma::TotalRamBytes(), shm_free));
  return static_cast<int64_t>(size.bytes);
}

// The rotation of the node's logs: the options' settings over the
// environment's (common/log_rotation.h).
absl::StatusOr<LogRotation> RotationOf(const NodeOptions& options) {
  absl::StatusOr<LogRotation> rotation = LogRotationFromEnv();
  if (!rotation.ok()) return rotation.status();
  if (options.log_rotation_max_bytes) rotation->max_bytes = *options.log_rotation_max_bytes;
  if (options.log_rotation_backup_count) rotation->backup_count = *options.log_rotation_backup_count;
  return rotation;
}

// True when the node's address was given: --node-ip-address or $LUMEN_NODE_IP.
bool NodeIpGiven(const NodeOptions& options) {
  const char* forced = std::getenv("LUMEN_NODE_IP");
  return !options.node_ip.empty() || (forced != nullptr && *forced != '\0');
}

// The address other nodes reach this one at (docs/operations.md, "Start a
// head"): --node-ip-address, else $LUMEN_NODE_IP; else, joining a cluster,
// the address this machine reaches the GCS from, except that a node joining
// a GCS of this machine over loopback takes the address the head advertises
// (`head_ip`, when it is this machine's), so that the nodes of one machine
// share one address; else (a head, or a GCS given by name) the machine's
// outbound address, as Ray detects it (DetectNodeIp: 127.0.0.1 only on a
// machine without a network).
std::string NodeIpOf(const NodeOptions& options, const std::string& head_ip) {
  if (NodeIpGiven(options)) return options.node_ip.empty() ? DefaultNodeIp() : options.node_ip;
  if (!options.head) {
    const std::string towards_gcs = SourceAddressTowards(options.gcs_address);
    const bool loopback = towards_gcs.rfind("127.", 0) == 0;
    if (loopback && !head_ip.empty() && CheckPortFree(head_ip, 0).ok()) return head_ip;
    if (!towards_gcs.empty()) return towards_gcs;
  }
  return DetectNodeIp();
}

// Where a head's GCS listens: the address given, or, when the address was
// detected, every interface, so that this machine's tools and drivers that
// name 127.0.0.1:PORT (Ray's habit) keep reaching it as other machines do
// at the detected address. The raylet and the workers bind the node's
// address only.
std::string GcsHostOf(const NodeOptions& requested, const std::string& node_ip) {
  return NodeIpGiven(requested) ? node_ip : "0.0.0.0";
}

}  // namespace

absl::StatusOr<StartedNode> StartNode(const NodeOptions& requested) {
  RETURN_IF_ERROR(ValidateNodeOptions(requested));
  ASSIGN_OR_RETURN(LogRotation rotation, RotationOf(requested));
  NodeOptions options = requested;
  if (!options.object_store_memory) {
    ASSIGN_OR_RETURN(options.object_store_memory, DefaultObjectStoreBytes());
  }
  ASSIGN_OR_RETURN(auto resources, ParseResourcesJson(options.resources_json));
  const std::string temp_dir = options.temp_dir.empty() ? DefaultTempDir() : options.temp_dir;
  absl::StatusOr<std::string> token = options.head ? rpc::FindOrCreateToken(options.token_file)
                                                   : rpc::FindToken(options.token_file);
  if (!token.ok()) return token.status();
  std::string head_ip;  // Joining: what the cluster's head advertises.
  if (!options.head) {
    ASSIGN_OR_RETURN(head_ip, CheckGcsReachable(options.gcs_address, *token));
  }
  options.node_ip = NodeIpOf(options, head_ip);  // Resolved once: every daemon binds and advertises it.
  const std::string node_ip = options.node_ip;
  const std::string gcs_host = GcsHostOf(requested, node_ip);
  // An address that is not this machine's would only fail later, in a
  // daemon's log (or, bound elsewhere, be unreachable): say so now.
  RETURN_IF_ERROR(CheckPortFree(node_ip, 0, "--node-ip-address"));
  if (options.head && options.port != 0) RETURN_IF_ERROR(CheckPortFree(gcs_host, options.port));
  if (options.raylet_port != 0) {
    RETURN_IF_ERROR(CheckPortFree(node_ip, options.raylet_port, "--node-manager-port"));
  }
  if (options.object_manager_port != 0) {
    RETURN_IF_ERROR(CheckPortFree(node_ip, options.object_manager_port, "--object-manager-port"));
  }
  ASSIGN_OR_RETURN(std::string session_dir,
                   CreateSessionDir(temp_dir, options.head ? SessionLatest::kPointHere
                                                           : SessionLatest::kKeepExisting));
  PruneSessionDirs(temp_dir, kSessionDirsKept);
  const SessionFiles files = FilesOfSession(session_dir);
  NodeStarter starter(options, *token, files, rotation);
  if (options.head) {
    if (absl::Status s = StartGcs(starter, options, files, node_ip, gcs_host); !s.ok()) {
      return starter.Abort(s);
    }
  } else {
    starter.node().gcs_address = options.gcs_address;
  }
  if (absl::Status s = StartPlasmaAndRaylet(starter, options, files, node_ip, resources); !s.ok()) {
    return starter.Abort(s);
  }
  if (options.head && options.include_dashboard) {
    if (absl::Status s = StartDashboard(starter, options, files); !s.ok()) {
      return starter.Abort(s);
    }
  }
  if (options.head && options.write_current_cluster) {
    if (absl::Status s = WriteCurrentCluster(temp_dir, starter.node().gcs_address); !s.ok()) {
      return starter.Abort(s);
    }
  }
  return starter.node();
}

void StopNode(const StartedNode& node, bool force) {
  std::vector<pid_t> raylets;
  std::vector<pid_t> others;
  for (const auto& [name, pid] : node.daemons) {
    (name == "raylet" ? raylets : others).push_back(pid);
  }
  StopProcesses(raylets, force, kStopGraceMs);
  StopProcesses(others, force, kStopGraceMs);
  // A stopped head is no longer "the running cluster" of its temp dir.
  const bool head = std::any_of(node.daemons.begin(), node.daemons.end(),
                                [](const auto& daemon) { return daemon.first == "gcs"; });
  if (!head || node.session_dir.empty()) return;
  const std::string temp_dir = fs::path(node.session_dir).parent_path().string();
  absl::StatusOr<std::string> recorded = ReadCurrentCluster(temp_dir);
  std::error_code ec;
  if (recorded.ok() && *recorded == node.gcs_address) {
    fs::remove(temp_dir + "/lumen_current_cluster", ec);
  }
}

void RemoveSessionDir(const StartedNode& node) {
  if (node.session_dir.empty()) return;
  std::error_code ec;
  fs::path latest = fs::path(node.session_dir).parent_path() / "session_latest";
  if (fs::is_symlink(latest, ec) && fs::read_symlink(latest, ec) == fs::path(node.session_dir)) {
    fs::remove(latest, ec);
  }
  fs::remove_all(node.session_dir, ec);
}

namespace {

// True while one of our Lumen daemons runs for `session`.
bool SessionInUse(const fs::path& session) {
  return !FindOwnLumenDaemons(session.string()).empty();
}

// The temp dirs of the GCSes among `pids`: <temp>/<session>/gcs_port is
// their --port-file.
std::set<std::string> TempDirsOfGcses(const std::vector<pid_t>& pids) {
  std::set<std::string> dirs;
  for (pid_t pid : pids) {
    const std::vector<std::string> argv = ReadCmdline(pid);
    if (argv.empty() || fs::path(argv[0]).filename() != "lumen-gcs") continue;
    for (size_t i = 0; i + 1 < argv.size(); ++i) {
      if (argv[i] == "--port-file") {
        dirs.insert(fs::path(argv[i + 1]).parent_path().parent_path().string());
      }
    }
  }
  return dirs;
}

}  // namespace

int PruneSessionDirs(const std::string& temp_dir, size_t keep) {
  std::vector<fs::path> sessions;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(temp_dir, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("session_", 0) != 0 || name == "session_latest") continue;
    if (entry.is_symlink(ec) || !entry.is_directory(ec)) continue;
    sessions.push_back(entry.path());
  }
  if (sessions.size() <= keep) return 0;
  // Names start with the start time: sorted newest first.
  std::sort(sessions.begin(), sessions.end(), std::greater<>());
  int removed = 0;
  for (size_t i = keep; i < sessions.size(); ++i) {
    if (SessionInUse(sessions[i])) continue;
    if (fs::remove_all(sessions[i], ec) > 0 && !ec) ++removed;
  }
  return removed;
}

int StopAllLocal(const std::string& temp_dir, bool force) {
  const std::vector<pid_t> daemons = FindOwnLumenDaemons(temp_dir);
  std::set<pid_t> pids(daemons.begin(), daemons.end());
  for (pid_t pid : FindWorkersOfSessionsUnder(temp_dir)) pids.insert(pid);
  std::set<std::string> temp_dirs = TempDirsOfGcses(daemons);
  temp_dirs.insert(temp_dir.empty() ? DefaultTempDir() : temp_dir);
  const int stopped = StopProcesses(std::vector<pid_t>(pids.begin(), pids.end()), force,
                                    kStopGraceMs);
  // The clusters recorded there are gone; only our own records are removed.
  std::error_code ec;
  for (const std::string& dir : temp_dirs) {
    if (CheckOwnedPrivate(dir).ok()) fs::remove(dir + "/lumen_current_cluster", ec);
  }
  return stopped;
}

}  // namespace lumen::deploy
