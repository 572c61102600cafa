// deploy/local_processes.h
//
// Finding and stopping the Lumen daemons of this machine: the `pids` file of
// a session ("name pid" per line), the check that a pid still belongs to a
// Lumen daemon (/proc/<pid>/cmdline, so a reused pid is never signalled),
// and graceful-then-forceful stopping of process groups.
// The parsing and matching functions are pure and unit tested; the rest
// reads /proc and sends signals. Thread-safe; every function may block for
// up to the grace period it is given.
#pragma once

#include <sys/types.h>

#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace lumen::deploy {

struct PidEntry {
  std::string name;  // "gcs", "plasma", "raylet".
  pid_t pid = 0;
};

// Parses the contents of a pids file; malformed lines are skipped.
std::vector<PidEntry> ParsePidsFile(const std::string& contents);

// Appends "name pid\n" to `path`.
absl::Status AppendPidsFile(const std::string& path, const std::string& name, pid_t pid);

// Splits a /proc/<pid>/cmdline buffer (NUL-separated) into arguments.
std::vector<std::string> SplitCmdline(const std::string& raw);

// True when `argv` is a Lumen daemon: argv[0]'s file name starts with
// "lumen-" (lumen-gcs, lumen-raylet, lumen-plasma, lumen-worker). With a
// non-empty `expected_name` ("gcs"), argv[0] must be lumen-<expected_name>.
bool IsLumenDaemon(const std::vector<std::string>& argv, const std::string& expected_name);

// True when some argument of `argv` names a path under `dir` + "/".
bool MentionsDirectory(const std::vector<std::string>& argv, const std::string& dir);

// The command line of a running process; empty when it is gone.
std::vector<std::string> ReadCmdline(pid_t pid);

// All pids of processes currently running that are Lumen daemons and whose
// command line mentions `dir` (e.g. a temp dir).
std::vector<pid_t> FindLumenProcessesMentioning(const std::string& dir);

// True when a NUL-separated /proc/<pid>/environ buffer sets
// LUMEN_SESSION_DIR (which the raylet gives its workers) to a path under `dir`.
bool EnvironNamesSessionUnder(const std::string& raw_environ, const std::string& dir);

// Running processes (other than this one) whose environment names a session
// under `dir`: the workers of those sessions, whatever their program is.
std::vector<pid_t> FindWorkersOfSessionsUnder(const std::string& dir);

// Signals each pid's process group (SIGTERM, or SIGKILL when `force`),
// waits up to `grace_ms` for all to exit, then SIGKILLs the rest. Returns
// how many of `pids` were alive when called.
int StopProcesses(const std::vector<pid_t>& pids, bool force, int grace_ms);

}  // namespace lumen::deploy
