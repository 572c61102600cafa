// common/process.h
//
// Starting and stopping child processes the Lumen way: every child gets its
// own process group (so killing the group takes its children too),
// stdout/stderr go to a log file, and the environment can be extended.
// Thread-safe (fork+exec with no allocation between them).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/log_rotation.h"

namespace lumen {

struct ProcessOptions {
  std::vector<std::string> argv;          // argv[0] is the executable path.
  std::map<std::string, std::string> env;  // Added to (overriding) ours.
  std::string log_file;                    // Append stdout+stderr here (created 0600,
                                           // never through a symlink); empty: inherit.
  // With a log file: rotate it by size (common/log_rotation.h); then a
  // writer process forked from the child copies its output into the file.
  LogRotation log_rotation;
  bool new_process_group = true;
  // Send `parent_death_signal` to the child when the thread that started it
  // dies (Linux PDEATHSIG): SIGKILL for workers; SIGTERM for daemons, so
  // they stop gracefully (removing their sockets).
  bool die_with_parent = false;
  int parent_death_signal = 9;  // SIGKILL
};

// Starts the process; returns its pid. Fails when the executable is missing.
absl::StatusOr<pid_t> StartProcess(const ProcessOptions& options);

// Sends `sig` to the process group led by `pid` (falls back to the pid).
void KillProcessGroup(pid_t pid, int sig);

// True while `pid` exists (and is not a zombie we could reap).
bool ProcessAlive(pid_t pid);

// Waits up to `timeout_ms` for `pid` (our child) to exit; true if it did.
bool WaitForExit(pid_t pid, int timeout_ms);

// The absolute path of the running executable.
std::string SelfExecutablePath();

}  // namespace lumen
