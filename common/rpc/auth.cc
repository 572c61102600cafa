#include "common/rpc/auth.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/id.h"

namespace lumen::rpc {
namespace {

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError("cannot read token file " + path);
  std::string token;
  std::getline(in, token);
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r' || token.back() == ' '))
    token.pop_back();
  if (token.empty()) return absl::InvalidArgumentError("token file " + path + " is empty");
  return token;
}

}  // namespace

std::string DefaultTokenPath() {
  if (const char* f = std::getenv("LUMEN_TOKEN_FILE"); f && *f) return f;
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.lumen/token";
}

absl::StatusOr<std::string> FindToken(const std::string& token_file) {
  if (!token_file.empty()) return ReadTokenFile(token_file);
  if (const char* t = std::getenv("LUMEN_TOKEN"); t && *t) return std::string(t);
  auto from_default = ReadTokenFile(DefaultTokenPath());
  if (from_default.ok()) return from_default;
  return absl::NotFoundError("no cluster token: pass --token-file, set LUMEN_TOKEN, or create " +
                             DefaultTokenPath() + " (a head creates it when missing)");
}

absl::StatusOr<std::string> FindOrCreateToken(const std::string& token_file) {
  auto found = FindToken(token_file);
  if (found.ok() || !absl::IsNotFound(found.status()) || !token_file.empty()) return found;
  std::string path = DefaultTokenPath();
  std::filesystem::path dir = std::filesystem::path(path).parent_path();
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  ::chmod(dir.c_str(), 0700);
  uint8_t raw[24];
  FillRandom(raw, sizeof(raw));
  std::string token = BytesToHex(raw, sizeof(raw));
  // O_EXCL: if another head raced us, use its token.
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) {
    if (errno == EEXIST) return ReadTokenFile(path);
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
