#include "common/rpc/auth.h"

#include <fcntl.h>
#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "common/id.h"
#include "common/paths.h"

namespace lumen::rpc {

absl::StatusOr<std::string> ReadSecretFile(const std::string& path, const std::string& what) {
  absl::StatusOr<std::string> contents = ReadOwnedPrivateFile(path, Privacy::kOwnerOnly);
  if (!contents.ok()) {
    if (absl::IsNotFound(contents.status())) return absl::NotFoundError("cannot read " + what + " " + path);
    return contents.status();
  }
  std::string secret = contents->substr(0, contents->find('\n'));
  while (!secret.empty() && (secret.back() == '\r' || secret.back() == ' ')) secret.pop_back();
  if (secret.empty()) return absl::InvalidArgumentError(what + " " + path + " is empty");
  return secret;
}

std::string DefaultTokenPath() {
  if (const char* f = std::getenv("LUMEN_TOKEN_FILE"); f && *f) return f;
  if (const char* home = std::getenv("HOME"); home && *home) return std::string(home) + "/.lumen/token";
  // Never a shared directory: the user's home from the password database,
  // else the per-user temp dir.
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir && *pw->pw_dir) {
    return std::string(pw->pw_dir) + "/.lumen/token";
  }
  return DefaultTempDir() + "/.lumen/token";
}

absl::StatusOr<std::string> FindToken(const std::string& token_file) {
  if (!token_file.empty()) return ReadSecretFile(token_file, "token file");
  if (const char* t = std::getenv("LUMEN_TOKEN"); t && *t) return std::string(t);
  auto from_default = ReadSecretFile(DefaultTokenPath(), "token file");
  if (!absl::IsNotFound(from_default.status())) return from_default;
  return absl::NotFoundError("no cluster token: pass --token-file, set LUMEN_TOKEN, or create " +
                             DefaultTokenPath() + " (a head creates it when missing)");
}

absl::StatusOr<std::string> FindOrCreateToken(const std::string& token_file) {
  auto found = FindToken(token_file);
  if (found.ok() || !absl::IsNotFound(found.status()) || !token_file.empty()) return found;
  std::string path = DefaultTokenPath();
  if (absl::Status s = EnsurePrivateDir(std::filesystem::path(path).parent_path().string()); !s.ok()) {
    return s;
  }
  uint8_t raw[24];
  FillRandom(raw, sizeof(raw));
  std::string token = BytesToHex(raw, sizeof(raw));
  // O_EXCL: if another head raced us, use its token.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ReadSecretFile(path, "token file");
    return absl::PermissionDeniedError("cannot create token file " + path + ": " + strerror(errno));
  }
  std::string line = token + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return absl::InternalError("cannot write token file " + path);
  return token;
}

bool TokenEquals(const std::string& a, const std::string& b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

}  // namespace lumen::rpc
