// deploy/cli/logs_command.h
//
// `lumen logs`: the log files of this machine's node of a cluster, as
// `ray logs` shows them. Without arguments it lists the files of the node's
// session (<session>/logs: gcs.out, raylet.out, plasma.out,
// worker-<id>-<pid>.out and their rotated <file>.N); `lumen logs FILE`
// prints one (`--tail N` its last N lines, `--follow` what is appended
// after, across rotations); `--pid`, `--actor-id`, `--task-id` pick a
// worker's (or daemon's) file (actors and tasks through the GCS's actor
// table and task events). The node is the local raylet of the cluster at
// --address / $RAY_ADDRESS / the temp dir's record, found among the user's
// own processes (deploy/local_processes.h); `--session-dir` names a session
// directly (a stopped cluster's). Only local files are read: another
// node's logs are read by running `lumen logs` there. Every error is one
// line on stderr, exit 1 (2 for bad usage). Main thread only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deploy/cli/flag_table.h"

namespace lumen::cli {

struct StatusRequest;

struct LogFile {
  std::string name;
  int64_t size = 0;
};

// The regular files of `logs_dir`, sorted by name.
std::vector<LogFile> ListLogFiles(const std::string& logs_dir);

// The listing `lumen logs` prints: a header naming `logs_dir`, then
// "SIZE  NAME" rows.
std::string FormatLogList(const std::string& logs_dir, const std::vector<LogFile>& files);

// The last `n` lines of `text` (all of it when it has fewer).
std::string LastLines(const std::string& text, int n);

// The file of process `pid` among `files`: a worker's worker-<id>-<pid>.out,
// or the daemon `daemon_pids` (the session's pids file: name -> pid) names.
absl::StatusOr<std::string> LogOfPid(const std::vector<LogFile>& files,
                                     const std::map<std::string, int>& daemon_pids, int pid);

// The file of worker `worker_id_hex` (with `pid`, when known) among `files`.
absl::StatusOr<std::string> LogOfWorker(const std::vector<LogFile>& files,
                                        const std::string& worker_id_hex, int pid);

// Checks that `name` is a plain file name (no '/', not "." or "..").
absl::Status CheckLogFileName(const std::string& name);

struct LogsRequest {
  std::vector<std::string> words;  // `lumen logs FILE`: {FILE}.
  std::string file;        // words[0], once checked; empty: list (or --pid / --actor-id).
  int tail = -1;           // --tail N: the last N lines; -1: all.
  bool follow = false;     // --follow: keep printing what is appended.
  int pid = 0;             // --pid PID.
  std::string actor_id;    // --actor-id ID (hex).
  std::string task_id;     // --task-id ID (hex).
  std::string session_dir; // --session-dir DIR: this session, no lookup.
};

// The flag table of `lumen logs`; its connection flags write into `cluster`.
CommandSpec LogsSpec(LogsRequest& request, StatusRequest& cluster);

int RunLogs(LogsRequest request, const StatusRequest& cluster);

}  // namespace lumen::cli
