#include "common/paths.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>

#include "common/process.h"

namespace fs = std::filesystem;

namespace lumen {

std::string DefaultTempDir() {
  if (const char* d = std::getenv("LUMEN_TEMP_DIR"); d && *d) return d;
  return "/tmp/lumen-" + std::to_string(::getuid());
}

namespace {

std::string OctalMode(mode_t mode) {
  char buf[8];
  std::snprintf(buf, sizeof(buf), "%04o", static_cast<unsigned>(mode & 07777));
  return buf;
}

// The check of CheckOwnedPrivate on what lstat or fstat said about `path`.
absl::Status CheckStat(const std::string& path, const struct stat& st, Privacy privacy) {
  const std::string refusing = "refusing " + path + ": ";
  if (S_ISLNK(st.st_mode)) {
    return absl::PermissionDeniedError(refusing + "a symbolic link; remove it");
  }
  const uid_t me = ::geteuid();
  const bool is_dir = S_ISDIR(st.st_mode);
  if (st.st_uid != me && !(is_dir && st.st_uid == 0)) {
    return absl::PermissionDeniedError(refusing + "owned by uid " + std::to_string(st.st_uid) +
                                       ", not you (uid " + std::to_string(me) + "); remove it");
  }
  if (st.st_mode & (S_IWGRP | S_IWOTH)) {
    return absl::PermissionDeniedError(refusing + "writable by group or others (mode " +
                                       OctalMode(st.st_mode) + "); run chmod go-w " + path);
  }
  if (privacy == Privacy::kOwnerOnly && (st.st_mode & (S_IRGRP | S_IROTH))) {
    return absl::PermissionDeniedError(refusing + "readable by group or others (mode " +
                                       OctalMode(st.st_mode) + "); run chmod " +
                                       (is_dir ? "700 " : "600 ") + path);
  }
  return absl::OkStatus();
}

absl::Status ErrnoStatus(const std::string& what, const std::string& path, int error) {
  std::string message = what + " " + path + ": " + std::strerror(error);
  if (error == ENOENT) return absl::NotFoundError(message);
  return absl::PermissionDeniedError(message);
}

std::string ParentDir(const std::string& path) {
  std::string parent = fs::path(path).parent_path().string();
  return parent.empty() ? "." : parent;
}

}  // namespace

absl::Status CheckOwnedPrivate(const std::string& path, Privacy privacy) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return ErrnoStatus("cannot inspect", path, errno);
  return CheckStat(path, st, privacy);
}

absl::StatusOr<std::string> ReadOwnedPrivateFile(const std::string& path, Privacy privacy) {
  if (absl::Status dir = CheckOwnedPrivate(ParentDir(path)); !dir.ok()) return dir;
  int fd = ::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) {
    if (errno == ELOOP) return absl::PermissionDeniedError("refusing " + path + ": a symbolic link; remove it");
    return ErrnoStatus("cannot read", path, errno);
  }
  struct stat st {};
  absl::Status checked = ::fstat(fd, &st) != 0 ? ErrnoStatus("cannot inspect", path, errno)
                         : !S_ISREG(st.st_mode)
                             ? absl::PermissionDeniedError("refusing " + path + ": not a regular file")
                             : CheckStat(path, st, privacy);
  std::string contents;
  char buf[4096];
  ssize_t n = 0;
  while (checked.ok() && (n = ::read(fd, buf, sizeof(buf))) > 0) contents.append(buf, n);
  if (checked.ok() && n < 0) checked = ErrnoStatus("cannot read", path, errno);
  ::close(fd);
  if (!checked.ok()) return checked;
  return contents;
}

absl::Status WritePrivateFile(const std::string& path, const std::string& contents) {
  static std::atomic<unsigned> counter{0};
  const std::string tmp = ParentDir(path) + "/." + fs::path(path).filename().string() + ".tmp" +
                          std::to_string(::getpid()) + "_" + std::to_string(counter++);
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus("cannot write", tmp, errno);
  bool ok = ::write(fd, contents.data(), contents.size()) == static_cast<ssize_t>(contents.size());
  ok = ::close(fd) == 0 && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(tmp.c_str());
    return ErrnoStatus("cannot write", path, error);
  }
  return absl::OkStatus();
}

absl::Status EnsurePrivateDir(const std::string& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0 && errno == ENOENT) {
    std::error_code ec;
    fs::create_directories(ParentDir(dir), ec);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return ErrnoStatus("cannot create", dir, errno);
    }
  }
  return CheckOwnedPrivate(dir);
}

std::vector<std::string> BinarySearchDirs(const BinaryPlaces& places) {
  std::vector<std::string> dirs;
  // The build tree the code was compiled in comes last: it may be stale or
  // half rebuilt long after this copy was installed. Code run from the build
  // tree finds it earlier anyway, as its executable's or library's place.
  for (const std::string* dir : {&places.override_dir, &places.executable_dir,
                                 &places.library_bin_dir, &places.install_bin_dir,
                                 &places.build_bin_dir}) {
    if (!dir->empty() && std::find(dirs.begin(), dirs.end(), *dir) == dirs.end()) {
      dirs.push_back(*dir);
    }
  }
  return dirs;
}

absl::StatusOr<std::string> FindBinaryIn(const std::string& name,
                                         const std::vector<std::string>& dirs) {
  std::string searched;
  for (const auto& dir : dirs) {
    std::string path = dir + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
    searched += " " + dir;
  }
  return absl::NotFoundError("cannot find " + name + " in" + searched +
                             " (set LUMEN_BIN_DIR to the directory holding it)");
}

namespace {

// <dir>/../bin for the shared library this code is linked into (a driver
// using <prefix>/lib/liblumen_ray.so wants <prefix>/bin, wherever that
// prefix was moved), or "" when the code is part of the executable itself.
std::string LibraryBinDir() {
  Dl_info info{};
  link_map* map = nullptr;
  if (::dladdr1(reinterpret_cast<void*>(&LibraryBinDir), &info, reinterpret_cast<void**>(&map),
                RTLD_DL_LINKMAP) == 0 ||
      map == nullptr || map->l_name == nullptr || map->l_name[0] == '\0') {
    return "";  // Not found, or the main program (whose link map has no name).
  }
  return (fs::path(map->l_name).parent_path().parent_path() / "bin").string();
}

}  // namespace

absl::StatusOr<std::string> FindLumenBinary(const std::string& name) {
  BinaryPlaces places;
  if (const char* d = std::getenv("LUMEN_BIN_DIR"); d && *d) places.override_dir = d;
  std::string self = SelfExecutablePath();
  if (!self.empty()) places.executable_dir = fs::path(self).parent_path().string();
  places.library_bin_dir = LibraryBinDir();
#ifdef LUMEN_BUILD_BIN_DIR
  places.build_bin_dir = LUMEN_BUILD_BIN_DIR;
#endif
#ifdef LUMEN_INSTALL_BIN_DIR
  places.install_bin_dir = LUMEN_INSTALL_BIN_DIR;
#endif
  return FindBinaryIn(name, BinarySearchDirs(places));
}

std::string SessionDirName(std::chrono::system_clock::time_point now, pid_t pid) {
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm local{};
  ::localtime_r(&t, &local);
  char stamp[64];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d_%H-%M-%S", &local);
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  char millis[8];
  std::snprintf(millis, sizeof(millis), "%03d", static_cast<int>(ms));
  return std::string("session_") + stamp + "_" + millis + "_" + std::to_string(pid);
}

absl::StatusOr<std::string> CreateSessionDir(const std::string& temp_dir, SessionLatest latest_mode) {
  if (absl::Status s = EnsurePrivateDir(temp_dir); !s.ok()) return s;
  const std::string name = SessionDirName(std::chrono::system_clock::now(), ::getpid());
  // Two nodes started by one process within a millisecond: name-1, name-2 ...
  std::string session = temp_dir + "/" + name;
  for (int n = 1; ::mkdir(session.c_str(), 0700) != 0; ++n) {
    if (errno != EEXIST || n > 1000) return ErrnoStatus("cannot create", session, errno);
    session = temp_dir + "/" + name + "-" + std::to_string(n);
  }
  for (const std::string& dir : {session + "/logs", session + "/sockets"}) {
    if (::mkdir(dir.c_str(), 0700) != 0) return ErrnoStatus("cannot create", dir, errno);
  }
  std::string latest = temp_dir + "/session_latest";
  std::error_code ec;
  if (latest_mode == SessionLatest::kKeepExisting && fs::is_directory(latest, ec)) return session;
  std::string tmp_link = latest + ".tmp" + std::to_string(::getpid());
  fs::remove(tmp_link, ec);
  fs::create_directory_symlink(session, tmp_link, ec);
  if (!ec) fs::rename(tmp_link, latest, ec);
  return session;
}

absl::Status WriteCurrentCluster(const std::string& temp_dir, const std::string& address) {
  if (absl::Status s = EnsurePrivateDir(temp_dir); !s.ok()) return s;
  return WritePrivateFile(temp_dir + "/lumen_current_cluster", address + "\n");
}

absl::StatusOr<std::string> ReadCurrentCluster(const std::string& temp_dir) {
  const std::string path = temp_dir + "/lumen_current_cluster";
  absl::StatusOr<std::string> contents = ReadOwnedPrivateFile(path);
  std::string address = contents.ok() ? contents->substr(0, contents->find('\n')) : "";
  if (contents.ok() ? address.empty() : absl::IsNotFound(contents.status())) {
    return absl::NotFoundError("no running cluster recorded in " + path +
                               " (start one with `lumen start --head`)");
  }
  if (!contents.ok()) return contents.status();
  return address;
}

std::string DefaultNodeIp() {
  if (const char* ip = std::getenv("LUMEN_NODE_IP"); ip && *ip) return ip;
  return "127.0.0.1";
}

}  // namespace lumen
