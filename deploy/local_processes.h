// deploy/local_processes.h
//
// Finding and stopping the Lumen processes of the current user on this
// machine. A process is one of ours by what the kernel says, never by a name
// in a file: its real and effective uid are ours and /proc/<pid>/exe is a
// lumen-gcs / lumen-raylet / lumen-plasma / lumen-worker / lumen-dashboard
// binary that sits beside the other daemon binaries (an installation or
// build tree). Workers that are the user's own driver binary re-executed
// are found by the LUMEN_SESSION_DIR their raylet gave them, and so are the
// drivers of submitted jobs (the dashboard gives them the same), again only
// among our own processes. Log writer processes (named lumen-logwriter, see
// common/log_rotation.h) are neither: they end with the process whose
// output they write. Session `pids` files are only a record for people and
// tests.
// The parsing and matching functions are pure and unit tested; the rest
// reads /proc and sends signals. Thread-safe; every function may block for
// up to the grace period it is given.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
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

// Appends "name pid\n" to `path` (created 0600, never through a symlink).
absl::Status AppendPidsFile(const std::string& path, const std::string& name, pid_t pid);

// Splits a /proc/<pid>/cmdline buffer (NUL-separated) into arguments.
std::vector<std::string> SplitCmdline(const std::string& raw);

// True when `exe` (a resolved executable path; a trailing " (deleted)", as
// /proc shows a replaced binary, is ignored) is named lumen-gcs,
// lumen-raylet, lumen-plasma, lumen-worker or lumen-dashboard and `exists`
// says its directory also holds lumen-gcs, lumen-raylet and lumen-plasma.
bool IsLumenDaemonExe(const std::string& exe,
                      const std::function<bool(const std::string&)>& exists);

// True when some argument of `argv` names a path under `dir` + "/".
bool MentionsDirectory(const std::vector<std::string>& argv, const std::string& dir);

// The command line of a running process; empty when it is gone.
std::vector<std::string> ReadCmdline(pid_t pid);

// What the kernel says about a running process.
struct ProcessIdentity {
  uid_t real_uid = static_cast<uid_t>(-1);
  uid_t effective_uid = static_cast<uid_t>(-1);
  std::string exe;  // The target of /proc/<pid>/exe; empty when unreadable.
  std::vector<std::string> argv;
};
// nullopt when the process is gone or /proc cannot be read.
std::optional<ProcessIdentity> ReadProcessIdentity(pid_t pid);

// Parses the "Uid:" line of /proc/<pid>/status into (real, effective).
std::optional<std::pair<uid_t, uid_t>> ParseStatusUids(const std::string& status);

// Our own running Lumen daemons (see the top of this file); with a
// non-empty `dir`, only those whose command line names a path under it
// (e.g. a temp dir or a session dir).
std::vector<pid_t> FindOwnLumenDaemons(const std::string& dir);

// True when a NUL-separated /proc/<pid>/environ buffer sets
// LUMEN_SESSION_DIR (which the raylet gives its workers) to a path under
// `dir`; with an empty `dir`, to any path.
bool EnvironNamesSessionUnder(const std::string& raw_environ, const std::string& dir);

// Our own running processes (other than this one) whose environment names a
// session under `dir` (empty: any session): the workers of those sessions,
// whatever their program is.
std::vector<pid_t> FindWorkersOfSessionsUnder(const std::string& dir);

// Signals each pid's process group (SIGTERM, or SIGKILL when `force`),
// waits up to `grace_ms` for all to exit, then SIGKILLs the rest. Returns
// how many of `pids` were alive when called.
int StopProcesses(const std::vector<pid_t>& pids, bool force, int grace_ms);

}  // namespace lumen::deploy
