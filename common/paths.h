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

#include "absl/status/statusor.h"

namespace lumen {

std::string DefaultTempDir();

// Finds the daemon binary `name` (e.g. "lumen-gcs"): $LUMEN_BIN_DIR, then
// the directory of the running executable, then the build tree and install
// prefix compiled in. NotFound names the places searched.
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
