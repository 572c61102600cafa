// common/paths.h
//
// Where Lumen's files live, and the one check every file Lumen trusts must
// pass. See docs/operations.md for the full layout:
//   <temp-dir>                   $LUMEN_TEMP_DIR, else /tmp/lumen-<uid> (0700)
//   <temp-dir>/lumen_current_cluster   "host:port" of the last head started
//   <temp-dir>/session_<stamp>_<ms>_<pid>/  one per node started (0700)
//       logs/      gcs.out raylet.out plasma.out worker-<id>-<pid>.out (0600)
//       sockets/   plasma.sock
//       pids       "name pid" per daemon this session started (a record only)
//   <temp-dir>/session_latest -> the newest head's (or private cluster's) session
// Trust: a directory or file Lumen reads an address, a pid, a port or a
// secret from must be the current user's own (directories may also be
// root's) and not writable by group or others; a secret not even readable by
// them; a symbolic link in its place is refused, never followed. Lumen's own
// files are written under a fresh name (O_EXCL|O_NOFOLLOW, 0600) and renamed
// into place. Every refusal is one line naming the path and the fix.
// Thread-safe: no state.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lumen {

// $LUMEN_TEMP_DIR, else /tmp/lumen-<uid>: one per user, never shared.
std::string DefaultTempDir();

// How private a trusted path must be.
enum class Privacy {
  kNotWritableByOthers,  // Addresses, pids, ports, directories: others may read.
  kOwnerOnly,            // Secrets (token, passwords): others may not even read.
};

// OK when `path` itself (lstat: a symbolic link is refused) is owned by the
// current user (a directory may also be root's), and neither group nor others
// may write it (kOwnerOnly: nor read it). NotFound when it does not exist;
// PermissionDenied otherwise, e.g. "refusing /tmp/lumen-0/lumen_current_cluster:
// owned by uid 1001, not you (uid 0); remove it".
absl::Status CheckOwnedPrivate(const std::string& path,
                               Privacy privacy = Privacy::kNotWritableByOthers);

// The contents of the regular file `path`, opened without following a
// symbolic link and checked as CheckOwnedPrivate(path, privacy) on the open
// file; its directory is checked too. NotFound when either is missing.
absl::StatusOr<std::string> ReadOwnedPrivateFile(const std::string& path,
                                                 Privacy privacy = Privacy::kNotWritableByOthers);

// Replaces `path` with a file (mode 0600) holding `contents`: written under a
// fresh name in the same directory (O_CREAT|O_EXCL|O_NOFOLLOW) and renamed
// over `path`, so readers never see half a file and a symbolic link planted
// at `path` is replaced, not followed.
absl::Status WritePrivateFile(const std::string& path, const std::string& contents);

// Creates `dir` when missing (its parents with the usual mode, `dir` itself
// 0700), then CheckOwnedPrivate(dir).
absl::Status EnsurePrivateDir(const std::string& dir);

// The places a Lumen daemon binary may be in; empty means "none".
struct BinaryPlaces {
  std::string override_dir;     // $LUMEN_BIN_DIR
  std::string executable_dir;   // the running executable's directory
  std::string library_bin_dir;  // <dir of the library holding this code>/../bin
  std::string install_bin_dir;  // <install prefix>/bin, compiled in
  std::string build_bin_dir;    // <build tree>/bin, compiled in
};

// The directories to search, best first (the order of BinaryPlaces'
// fields), without empties and repeats.
std::vector<std::string> BinarySearchDirs(const BinaryPlaces& places);

// The first `dir`/`name` in `dirs` that is executable; NotFound names the
// directories searched.
absl::StatusOr<std::string> FindBinaryIn(const std::string& name,
                                         const std::vector<std::string>& dirs);

// Finds the daemon binary `name` (e.g. "lumen-gcs") in the BinaryPlaces of
// this process, in BinarySearchDirs order: $LUMEN_BIN_DIR, the running
// executable's directory, <the library's directory>/../bin, the install
// prefix's bin, and only then the build tree compiled in.
absl::StatusOr<std::string> FindLumenBinary(const std::string& name);

// The name of a session directory started at `now` by process `pid`:
// session_<YYYY-MM-DD>_<HH-MM-SS>_<ms, three digits>_<pid>, local time, so
// that names sort by start time.
std::string SessionDirName(std::chrono::system_clock::time_point now, pid_t pid);

// What CreateSessionDir does with <temp-dir>/session_latest.
enum class SessionLatest {
  kPointHere,     // A head: session_latest points at the new session.
  kKeepExisting,  // A joining node: left alone while it names a directory, so
                  // it keeps pointing at the head's logs in a shared temp dir.
};

// EnsurePrivateDir(temp_dir), then creates a fresh session directory with
// logs/ and sockets/ (all 0700) and updates session_latest as `latest` says.
// Returns its path.
absl::StatusOr<std::string> CreateSessionDir(const std::string& temp_dir,
                                             SessionLatest latest = SessionLatest::kPointHere);

// Reads/writes <temp-dir>/lumen_current_cluster, both checked as above
// (reading a missing file is NotFound, with how to start a cluster).
absl::Status WriteCurrentCluster(const std::string& temp_dir, const std::string& address);
absl::StatusOr<std::string> ReadCurrentCluster(const std::string& temp_dir);

// The IP other nodes reach us at: $LUMEN_NODE_IP, else 127.0.0.1.
std::string DefaultNodeIp();

}  // namespace lumen
