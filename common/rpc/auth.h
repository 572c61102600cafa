// common/rpc/auth.h
//
// The cluster token. Every gRPC call carries it in the "lumen-token"
// metadata entry and every server refuses calls without the right one.
//
// Where a process finds the token, first match wins:
//   1. an explicit token file (--token-file flag of the daemons and CLI);
//   2. the LUMEN_TOKEN environment variable (the token itself);
//   3. the per-user file $LUMEN_TOKEN_FILE, else ~/.lumen/token
//      (directory 0700, file 0600); without $HOME, the home directory of the
//      password database.
// A head started with none of these creates a random token in (3), so the
// CLI, drivers and nodes joining as the same user need no flag.
// A token file (1 or 3) is refused unless it and its directory pass
// CheckOwnedPrivate (common/paths.h): the file owned by this user and
// readable or writable by nobody else, the directory not writable by others.
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace lumen::rpc {

inline constexpr char kTokenMetadataKey[] = "lumen-token";

// The environment variable the GCS reads the Redis password from (secrets
// never go on a command line: every local user can read those in ps).
inline constexpr char kRedisPasswordEnv[] = "LUMEN_REDIS_PASSWORD";

// The per-user token file: $LUMEN_TOKEN_FILE or ~/.lumen/token.
std::string DefaultTokenPath();

// The first line of the secret file `path` (trailing blanks dropped), read
// only when the file and its directory pass CheckOwnedPrivate(kOwnerOnly).
// `what` names the secret in errors ("token file"). NotFound when missing.
absl::StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& what);

// Finds the token following the order above. `token_file` may be empty.
// NotFound when there is none anywhere.
absl::StatusOr<std::string> FindToken(const std::string& token_file);

// Like FindToken, but when none exists creates a new random token in the
// per-user file (owner-only) and returns it. Used by the head.
absl::StatusOr<std::string> FindOrCreateToken(const std::string& token_file);

// Constant-time comparison.
bool TokenEquals(const std::string& a, const std::string& b);

}  // namespace lumen::rpc
