#include "deploy/cli/logs_command.h"

#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_format.h"
#include "common/id.h"
#include "common/rpc/auth.h"
#include "common/rpc/client.h"
#include "deploy/cli/commands.h"
#include "deploy/local_processes.h"
#include "proto/gcs.grpc.pb.h"
#include "proto/task_events.grpc.pb.h"

namespace fs = std::filesystem;

namespace lumen::cli {
namespace {

int Fail(const std::string& message, int code = 1) {
  std::cerr << "lumen logs: " << message << std::endl;
  return code;
}

std::string HumanSize(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  int unit = 0;
  while (value >= 1024 && unit < 3) {
    value /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f %s", value, units[unit]);
}

// The value after `flag` in `argv`; "" when absent.
std::string FlagValue(const std::vector<std::string>& argv, const std::string& flag) {
  for (size_t i = 0; i + 1 < argv.size(); ++i) {
    if (argv[i] == flag) return argv[i + 1];
  }
  return "";
}

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "localhost" || host == "::1";
}

// The same GCS: the same address, or the same port on loopback names.
bool SameGcs(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const size_t ca = a.rfind(':');
  const size_t cb = b.rfind(':');
  if (ca == std::string::npos || cb == std::string::npos) return false;
  return a.substr(ca) == b.substr(cb) && IsLoopback(a.substr(0, ca)) && IsLoopback(b.substr(0, cb));
}

// The session directory of our own running raylet of the cluster whose GCS
// is `gcs_address`.
absl::StatusOr<std::string> LocalSessionOf(const std::string& gcs_address) {
  for (pid_t pid : deploy::FindOwnLumenDaemons("")) {
    const std::vector<std::string> argv = deploy::ReadCmdline(pid);
    if (argv.empty() || fs::path(argv[0]).filename() != "lumen-raylet") continue;
    if (!SameGcs(FlagValue(argv, "--gcs-address"), gcs_address)) continue;
    const std::string session = FlagValue(argv, "--session-dir");
    if (!session.empty()) return session;
  }
  return absl::NotFoundError("no node of the cluster at " + gcs_address +
                             " runs on this machine (lumen logs reads this machine's files only: run "
                             "it on the node, or give --session-dir)");
}

std::map<std::string, int> DaemonPids(const std::string& session_dir) {
  std::map<std::string, int> pids;
  std::ifstream in(session_dir + "/pids");
  std::string name;
  int pid = 0;
  while (in >> name >> pid) pids[name] = pid;
  return pids;
}

// Prints `path` (its last `tail` lines when tail >= 0); with `follow`,
// then what is appended, reopening the file when it is rotated (replaced
// or truncated). Returns the exit code.
int PrintFile(const std::string& path, int tail, bool follow) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::cout << (tail >= 0 ? LastLines(text.str(), tail) : text.str()) << std::flush;
  if (!follow) return 0;
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) return Fail("cannot read " + path);
  ino_t inode = st.st_ino;
  std::streamoff offset = static_cast<std::streamoff>(text.str().size());
  while (true) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (::stat(path.c_str(), &st) != 0) continue;  // Between rotation's rename and create.
    if (st.st_ino != inode || st.st_size < offset) {  // Rotated: a new file.
      inode = st.st_ino;
      offset = 0;
    }
    if (st.st_size == offset) continue;
    std::ifstream grown(path, std::ios::binary);
    grown.seekg(offset);
    std::stringstream added;
    added << grown.rdbuf();
    offset += static_cast<std::streamoff>(added.str().size());
    std::cout << added.str() << std::flush;
  }
}

// The log file of a worker named by the GCS (`what`: "actor ID", "task ID"),
// or where it is when it is not on this node.
absl::StatusOr<std::string> LogOfRemoteWorker(const std::vector<LogFile>& files, const std::string& what,
                                              const std::string& worker, int pid, const std::string& node_ip,
                                              const std::string& flag) {
  if (worker.empty() && pid == 0) return absl::NotFoundError(what + " has not had a worker yet");
  const std::string worker_hex = BytesToHex(reinterpret_cast<const uint8_t*>(worker.data()), worker.size());
  absl::StatusOr<std::string> file = worker.empty() ? LogOfPid(files, {}, pid) : LogOfWorker(files, worker_hex, pid);
  if (file.ok()) return file;
  return absl::NotFoundError(what + " runs (or ran) in pid " + std::to_string(pid) +
                             (node_ip.empty() ? "" : " on the node at " + node_ip) +
                             ", whose log is not on this node: run `lumen logs " + flag + "` there");
}

// The log of actor `hex`: asks the GCS for its worker and pid.
absl::StatusOr<std::string> LogOfActor(const std::string& hex, const std::vector<LogFile>& files,
                                       const std::string& gcs_address, const std::string& token) {
  absl::StatusOr<ActorId> id = ActorId::FromHex(hex);
  if (!id.ok()) return absl::InvalidArgumentError("--actor-id " + hex + " is not an actor id (32 hex digits)");
  rpc::RpcClient<rpc::GcsService> gcs(gcs_address, token);
  rpc::GetActorInfoRequest request;
  request.set_actor_id(id->Binary());
  auto reply = gcs.CallSync(&rpc::GcsService::Stub::GetActorInfo, request, 5000);
  if (!reply.ok()) {
    return absl::UnavailableError("cannot ask the GCS at " + gcs_address + " about the actor: " +
                                  std::string(reply.status().message()));
  }
  if (!reply->found()) return absl::NotFoundError("no actor " + hex + " in the cluster at " + gcs_address);
  const rpc::ActorInfo& actor = reply->actor();
  return LogOfRemoteWorker(files, "actor " + hex, actor.address().worker_id(), actor.pid(),
                           actor.address().ip(), "--actor-id " + hex);
}

// The log of task `hex` (its latest attempt that reached a worker): asks
// the GCS's task events.
absl::StatusOr<std::string> LogOfTask(const std::string& hex, const std::vector<LogFile>& files,
                                      const std::string& gcs_address, const std::string& token) {
  absl::StatusOr<TaskId> id = TaskId::FromHex(hex);
  if (!id.ok()) return absl::InvalidArgumentError("--task-id " + hex + " is not a task id (48 hex digits)");
  rpc::RpcClient<rpc::TaskEventService> events(gcs_address, token);
  rpc::GetTaskEventsRequest request;
  request.set_task_id(id->Binary());
  auto reply = events.CallSync(&rpc::TaskEventService::Stub::GetTaskEvents, request, 5000);
  if (!reply.ok()) {
    return absl::UnavailableError("cannot ask the GCS at " + gcs_address + " about the task: " +
                                  std::string(reply.status().message()));
  }
  const rpc::TaskInfoEntry* latest = nullptr;
  for (const auto& task : reply->tasks()) {
    if (task.worker_pid() != 0 && (!latest || task.attempt() > latest->attempt())) latest = &task;
  }
  if (reply->tasks().empty()) {
    return absl::NotFoundError("no task " + hex + " in the task events of the cluster at " + gcs_address);
  }
  if (!latest) return absl::NotFoundError("task " + hex + " has not run on a worker yet");
  return LogOfRemoteWorker(files, "task " + hex, latest->worker_id(), latest->worker_pid(), "",
                           "--task-id " + hex);
}

}  // namespace

std::vector<LogFile> ListLogFiles(const std::string& logs_dir) {
  std::vector<LogFile> files;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(logs_dir, ec)) {
    if (!entry.is_regular_file(ec) || entry.is_symlink(ec)) continue;
    files.push_back({entry.path().filename().string(), static_cast<int64_t>(entry.file_size(ec))});
  }
  std::sort(files.begin(), files.end(), [](const LogFile& a, const LogFile& b) { return a.name < b.name; });
  return files;
}

std::string FormatLogList(const std::string& logs_dir, const std::vector<LogFile>& files) {
  std::string out = "Log files in " + logs_dir + " (`lumen logs NAME` prints one):\n";
  if (files.empty()) out += "  (none)\n";
  for (const LogFile& file : files) out += absl::StrFormat("%10s  %s\n", HumanSize(file.size), file.name);
  return out;
}

std::string LastLines(const std::string& text, int n) {
  if (n <= 0) return "";
  size_t end = text.size();
  if (end > 0 && text[end - 1] == '\n') --end;  // The last line's own newline.
  size_t at = end;
  for (int lines = 0; at > 0; --at) {
    if (text[at - 1] == '\n' && ++lines == n) break;
  }
  return text.substr(at);
}

absl::StatusOr<std::string> LogOfPid(const std::vector<LogFile>& files,
                                     const std::map<std::string, int>& daemon_pids, int pid) {
  for (const auto& [name, daemon_pid] : daemon_pids) {
    if (daemon_pid == pid) return name + ".out";
  }
  const std::string suffix = "-" + std::to_string(pid) + ".out";
  for (const LogFile& file : files) {
    const std::string& name = file.name;
    if (name.rfind("worker-", 0) == 0 && name.size() > suffix.size() &&
        name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      return name;
    }
  }
  return absl::NotFoundError("no log file of pid " + std::to_string(pid) + " on this node");
}

absl::StatusOr<std::string> LogOfWorker(const std::vector<LogFile>& files,
                                        const std::string& worker_id_hex, int pid) {
  const std::string exact = "worker-" + worker_id_hex + "-" + std::to_string(pid) + ".out";
  const std::string prefix = "worker-" + worker_id_hex;
  std::string any;
  for (const LogFile& file : files) {
    if (file.name == exact) return exact;
    const bool current = file.name.size() > 4 && file.name.compare(file.name.size() - 4, 4, ".out") == 0;
    if (file.name.rfind(prefix, 0) == 0 && current) any = file.name;
  }
  if (!any.empty()) return any;
  return absl::NotFoundError("no log file of worker " + worker_id_hex + " on this node");
}

absl::Status CheckLogFileName(const std::string& name) {
  if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos) {
    return absl::InvalidArgumentError("\"" + name + "\" is not a log file name (`lumen logs` lists them)");
  }
  return absl::OkStatus();
}

CommandSpec LogsSpec(LogsRequest& r, StatusRequest& cluster) {
  CommandSpec spec{
      "logs",
      "list or print the log files of this machine's node",
      {"[FILE] [--tail N] [--follow] [flags]",
       "--pid PID | --actor-id ID | --task-id ID [--tail N] [--follow] [flags]"},
      "Without FILE, lists the log files of this machine's node of the cluster (name and size); with FILE "
      "(a name from that list), prints it. --pid, --actor-id and --task-id print the file of a worker (or "
      "daemon). "
      "Only this machine's files are read: run it on the node whose logs you want, or give --session-dir.",
      {
          {"tail", "N", "", "print only the last N lines",
           [&r](const std::string& value) {
             if (!absl::SimpleAtoi(value, &r.tail) || r.tail < 0) {
               return absl::InvalidArgumentError("--tail must be a number of lines >= 0, got \"" + value + "\"");
             }
             return absl::OkStatus();
           }},
          {"follow", "", "", "keep printing what is appended (across rotations) until interrupted",
           [&r](const std::string& value) {
             r.follow = value == "true";
             return absl::OkStatus();
           }},
          {"pid", "PID", "", "the log of the worker (or daemon) with this pid",
           [&r](const std::string& value) {
             if (!absl::SimpleAtoi(value, &r.pid) || r.pid <= 0) {
               return absl::InvalidArgumentError("--pid must be a process id, got \"" + value + "\"");
             }
             return absl::OkStatus();
           }},
          {"actor-id", "ID", "", "the log of the worker running (or that ran) this actor, found in the GCS",
           [&r](const std::string& value) {
             r.actor_id = value;
             return absl::OkStatus();
           }},
          {"task-id", "ID", "", "the log of the worker that ran this task (its latest attempt), found in the "
                                "GCS's task events",
           [&r](const std::string& value) {
             r.task_id = value;
             return absl::OkStatus();
           }},
          {"session-dir", "DIR", "the session of this machine's raylet of the cluster",
           "read the logs of this session directory (e.g. a stopped cluster's)",
           [&r](const std::string& value) {
             r.session_dir = value;
             return absl::OkStatus();
           }},
      }};
  for (Flag& flag : ClusterFlags(cluster)) spec.flags.push_back(std::move(flag));
  spec.positionals = &r.words;
  return spec;
}

int RunLogs(LogsRequest request, const StatusRequest& cluster) {
  if (request.words.size() > 1) return Fail("give at most one FILE, got \"" + request.words[1] + "\"", 2);
  if (!request.words.empty()) request.file = request.words[0];
  const int selectors = !request.file.empty() + (request.pid != 0) + !request.actor_id.empty() +
                        !request.task_id.empty();
  if (selectors > 1) return Fail("give one of FILE, --pid, --actor-id and --task-id", 2);
  if (!request.file.empty()) {
    if (absl::Status name = CheckLogFileName(request.file); !name.ok()) return Fail(std::string(name.message()), 2);
  }
  std::string session = request.session_dir;
  std::string address;
  if (session.empty() || !request.actor_id.empty() || !request.task_id.empty()) {
    bool from_record = false;
    absl::StatusOr<std::string> resolved = ClusterAddress(cluster, from_record);
    if (!resolved.ok()) return Fail(std::string(resolved.status().message()));
    address = *resolved;
  }
  if (session.empty()) {
    absl::StatusOr<std::string> local = LocalSessionOf(address);
    if (!local.ok()) return Fail(std::string(local.status().message()));
    session = *local;
  }
  const std::string logs_dir = session + "/logs";
  if (!fs::is_directory(logs_dir)) return Fail("no log directory " + logs_dir);
  const std::vector<LogFile> files = ListLogFiles(logs_dir);
  std::string name = request.file;
  if (request.pid != 0) {
    absl::StatusOr<std::string> found = LogOfPid(files, DaemonPids(session), request.pid);
    if (!found.ok()) return Fail(std::string(found.status().message()) + " (" + logs_dir + ")");
    name = *found;
  } else if (!request.actor_id.empty() || !request.task_id.empty()) {
    absl::StatusOr<std::string> token = rpc::FindToken(cluster.token_file);
    if (!token.ok()) return Fail(std::string(token.status().message()));
    absl::StatusOr<std::string> found = request.actor_id.empty()
                                            ? LogOfTask(request.task_id, files, address, *token)
                                            : LogOfActor(request.actor_id, files, address, *token);
    if (!found.ok()) return Fail(std::string(found.status().message()), absl::IsInvalidArgument(found.status()) ? 2 : 1);
    name = *found;
  }
  if (name.empty()) {
    std::cout << FormatLogList(logs_dir, files) << std::flush;
    return 0;
  }
  const bool known = std::any_of(files.begin(), files.end(), [&](const LogFile& f) { return f.name == name; });
  if (!known) return Fail("no log file " + name + " in " + logs_dir + " (`lumen logs` lists them)");
  return PrintFile(logs_dir + "/" + name, request.tail, request.follow);
}

}  // namespace lumen::cli
