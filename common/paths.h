// common/paths.h
//
// Where Lumen's files live. See docs/operations.md for the full layout:
//   <temp-dir>                   default /tmp/lumen (or $LUMEN_TEMP_DIR)
//   <temp-dir>/lumen_current_cluster   "host:port" of the last head started
//   <temp-dir>/session_<stamp>_<pid>/  one per head or embedded cluster
//       logs/      gcs.out raylet.out plasma.out worker-<id>-<pid>.out
//       sockets/   plasma.sock (directory mode 0700)
//       pids       "name pid" per daemon this session started
//   <temp-dir>/session_latest -> the newest session
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lumen {

std::string DefaultTempDir();

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

// Creates a fresh session directory with logs/ and sockets/ (0700) and
// points session_latest at it. Returns its path.
absl::StatusOr<std::string> CreateSessionDir(const std::string& temp_dir);

// Reads/writes <temp-dir>/lumen_current_cluster.
absl::Status WriteCurrentCluster(const std::string& temp_dir, const std::string& address);
absl::StatusOr<std::string> ReadCurrentCluster(const std::string& temp_dir);

// The IP other nodes reach us at: $LUMEN_NODE_IP, else 127.0.0.1.
std::string DefaultNodeIp();

}  // namespace lumen
