// common/log_rotation.h
//
// Size-based rotation of the .out files of daemons and workers, as Ray's
// RAY_ROTATION_MAX_BYTES / RAY_ROTATION_BACKUP_COUNT: a file that would grow
// past `max_bytes` is renamed to <file>.1 (<file>.1 to <file>.2, ..., the
// oldest beyond `backup_count` dropped) and writing goes on in a fresh
// <file>, so a log takes at most (backup_count + 1) * max_bytes on disk.
//
// Design (docs/operations.md, "Log rotation"): StartProcess (common/process.h)
// puts a small writer process between a child and its log file: the child's
// stdout and stderr are a pipe, and the writer, forked from the child
// before exec, copies the pipe into the file through RotatingLogWriter. The
// writer runs until every writer of the pipe is gone, so the last lines of a
// process that crashes are still written. It ignores SIGTERM, SIGINT and
// SIGHUP (it ends with its process, not with its process group's signals)
// and holds an exclusive flock on the file it writes (taken by StartProcess
// before the fork; a rotation swaps the fresh file in already locked, with
// renameat2(RENAME_EXCHANGE), so the name always names a locked file), which
// WaitForLogWriter uses to know that a dead process's output is all there.
//
// RotatingLogWriter uses system calls only (no allocation, no locks): it is
// safe in a child forked from a multi-threaded process. One thread per
// writer. Failures (a full disk, a removed directory) never stop it: it
// keeps the output it can and drops the rest.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "absl/status/statusor.h"

namespace lumen {

struct LogRotation {
  // A file rotates before it would grow past this many bytes; 0: never
  // (the child writes straight into its file, no writer process).
  int64_t max_bytes = 0;
  // Rotated files kept besides the current one (<file>.1 is the newest).
  int backup_count = 5;
  bool enabled() const { return max_bytes > 0; }
};

// Ray's defaults: 512 MiB, 5 backups.
inline constexpr int64_t kDefaultRotationMaxBytes = int64_t{512} << 20;
inline constexpr int kDefaultRotationBackupCount = 5;
inline constexpr char kRotationMaxBytesEnv[] = "LUMEN_ROTATION_MAX_BYTES";
inline constexpr char kRotationBackupCountEnv[] = "LUMEN_ROTATION_BACKUP_COUNT";
// Ray's names, read when Lumen's are not set.
inline constexpr char kRayRotationMaxBytesEnv[] = "RAY_ROTATION_MAX_BYTES";
inline constexpr char kRayRotationBackupCountEnv[] = "RAY_ROTATION_BACKUP_COUNT";

// Parses a number of bytes (>= 0; "0" turns rotation off) or a backup count
// (>= 0). `what` names the setting in the error.
absl::StatusOr<int64_t> ParseRotationMaxBytes(const std::string& text, const std::string& what);
absl::StatusOr<int> ParseRotationBackupCount(const std::string& text, const std::string& what);

// The settings of this process's environment: LUMEN_ROTATION_*, else
// RAY_ROTATION_*, else the defaults. A bad value is InvalidArgument naming
// the variable.
absl::StatusOr<LogRotation> LogRotationFromEnv();

// The environment entries that hand `rotation` on to a child (the raylet
// passes them to its workers through LogRotationFromEnv).
std::map<std::string, std::string> LogRotationEnv(const LogRotation& rotation);

// Writes into the open log file `fd` (owned), rotating as described above.
// The file's name is read from /proc/self/fd at each rotation, so a file
// renamed after it was opened (a worker's log gets its pid) rotates under
// its current name.
class RotatingLogWriter {
 public:
  RotatingLogWriter(int fd, LogRotation rotation);
  // Appends `data`. A file is cut after its last whole line that fits; a
  // single line longer than max_bytes is split. No file exceeds max_bytes.
  void Write(const char* data, size_t size);
  int fd() const { return fd_; }

 private:
  void Rotate();
  void WriteAll(const char* data, size_t size);

  int fd_;
  LogRotation rotation_;
  int64_t size_ = 0;
};

// The writer process's body: copies `in_fd` into `log_fd` until end of
// file, then _exit(0). Called in a child right after fork(); closes every
// other descriptor first.
[[noreturn]] void RunLogWriterChild(int in_fd, int log_fd, LogRotation rotation);

// Waits up to `timeout_ms` until no log writer holds `log_file` (its
// process and every writer of its pipe have exited), so that the file has
// all of a dead process's output. True when none holds it (or there is no
// such file).
bool WaitForLogWriter(const std::string& log_file, int timeout_ms);

}  // namespace lumen
