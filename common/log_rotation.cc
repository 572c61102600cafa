#include "common/log_rotation.h"

#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "absl/strings/numbers.h"

namespace lumen {
namespace {

const char* Env(const char* name) {
  const char* value = std::getenv(name);
  return value && *value ? value : nullptr;
}

// Writes the decimal digits of `n` (>= 0) and a NUL at `at`.
void PutNumber(char* at, int n) {
  char digits[12];
  int count = 0;
  do {
    digits[count++] = static_cast<char>('0' + n % 10);
    n /= 10;
  } while (n > 0);
  while (count > 0) *at++ = digits[--count];
  *at = '\0';
}

// `out` = `path` + "." + `n` (`out` holds PATH_MAX + 16 bytes).
void WithSuffix(const char* path, int n, char* out) {
  size_t len = std::strlen(path);
  std::memcpy(out, path, len);
  out[len] = '.';
  PutNumber(out + len + 1, n);
}

// Every descriptor from `first` up is closed (close_range, else one by one).
void CloseFrom(int first) {
  if (::syscall(SYS_close_range, first, ~0U, 0) == 0) return;
  const long max = ::sysconf(_SC_OPEN_MAX);
  for (long fd = first; fd < (max > 0 ? max : 1024); ++fd) ::close(static_cast<int>(fd));
}

}  // namespace

absl::StatusOr<int64_t> ParseRotationMaxBytes(const std::string& text, const std::string& what) {
  int64_t bytes = 0;
  if (!absl::SimpleAtoi(text, &bytes) || bytes < 0) {
    return absl::InvalidArgumentError(what + " must be a number of bytes >= 0 (0: no rotation), got \"" +
                                      text + "\"");
  }
  return bytes;
}

absl::StatusOr<int> ParseRotationBackupCount(const std::string& text, const std::string& what) {
  int count = 0;
  if (!absl::SimpleAtoi(text, &count) || count < 0 || count > 1000) {
    return absl::InvalidArgumentError(what + " must be a whole number from 0 to 1000, got \"" + text + "\"");
  }
  return count;
}

absl::StatusOr<LogRotation> LogRotationFromEnv() {
  LogRotation rotation{kDefaultRotationMaxBytes, kDefaultRotationBackupCount};
  for (const char* name : {kRotationMaxBytesEnv, kRayRotationMaxBytesEnv}) {
    if (const char* value = Env(name)) {
      absl::StatusOr<int64_t> bytes = ParseRotationMaxBytes(value, name);
      if (!bytes.ok()) return bytes.status();
      rotation.max_bytes = *bytes;
      break;
    }
  }
  for (const char* name : {kRotationBackupCountEnv, kRayRotationBackupCountEnv}) {
    if (const char* value = Env(name)) {
      absl::StatusOr<int> count = ParseRotationBackupCount(value, name);
      if (!count.ok()) return count.status();
      rotation.backup_count = *count;
      break;
    }
  }
  return rotation;
}

std::map<std::string, std::string> LogRotationEnv(const LogRotation& rotation) {
  return {{kRotationMaxBytesEnv, std::to_string(rotation.max_bytes)},
          {kRotationBackupCountEnv, std::to_string(rotation.backup_count)}};
}

RotatingLogWriter::RotatingLogWriter(int fd, LogRotation rotation) : fd_(fd), rotation_(rotation) {
  struct stat st;
  if (::fstat(fd_, &st) == 0) size_ = st.st_size;
  ::flock(fd_, LOCK_EX | LOCK_NB);
}

void RotatingLogWriter::WriteAll(const char* data, size_t size) {
  while (size > 0) {
    ssize_t n = ::write(fd_, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // Disk full, file gone: drop the rest.
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void RotatingLogWriter::Write(const char* data, size_t size) {
  if (!rotation_.enabled()) return WriteAll(data, size);
  while (size > 0) {
    const int64_t room = rotation_.max_bytes - size_;
    if (room >= static_cast<int64_t>(size)) {
      WriteAll(data, size);
      size_ += static_cast<int64_t>(size);
      return;
    }
    size_t cut = 0;
    for (int64_t i = room; i > 0; --i) {
      if (data[i - 1] == '\n') {
        cut = static_cast<size_t>(i);
        break;
      }
    }
    if (cut == 0) {
      if (size_ > 0) {  // The next line does not fit: it starts the next file.
        Rotate();
        continue;
      }
      cut = static_cast<size_t>(room);  // One line longer than a whole file.
    }
    WriteAll(data, cut);
    data += cut;
    size -= cut;
    Rotate();
  }
}

void RotatingLogWriter::Rotate() {
  size_ = 0;
  char link[64] = "/proc/self/fd/";
  PutNumber(link + std::strlen(link), fd_);
  char path[PATH_MAX + 16];
  ssize_t n = ::readlink(link, path, PATH_MAX);
  static constexpr char kDeleted[] = " (deleted)";
  const size_t deleted_len = sizeof(kDeleted) - 1;
  const bool gone = n <= 0 || (static_cast<size_t>(n) >= deleted_len &&
                               std::memcmp(path + n - deleted_len, kDeleted, deleted_len) == 0);
  if (gone || rotation_.backup_count == 0) {
    // Nowhere to rotate to (or no backups wanted): start the file over.
    (void)::ftruncate(fd_, 0);
    return;
  }
  path[n] = '\0';
  char from[PATH_MAX + 16];
  char to[PATH_MAX + 16];
  for (int i = rotation_.backup_count - 1; i >= 1; --i) {
    WithSuffix(path, i, from);
    WithSuffix(path, i + 1, to);
    ::rename(from, to);  // ENOENT while there are fewer backups: fine.
  }
  // The fresh file is made and locked under a temporary name, then swapped
  // in: `path` always names a file this writer holds locked (see
  // WaitForLogWriter).
  char fresh_path[PATH_MAX + 16];
  WithSuffix(path, 0, fresh_path);  // "<file>.0": never a backup's name.
  ::unlink(fresh_path);
  int fresh = ::open(fresh_path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fresh < 0) {
    (void)::ftruncate(fd_, 0);  // Cannot make a new file: start this one over.
    return;
  }
  ::flock(fresh, LOCK_EX | LOCK_NB);
  if (::renameat2(AT_FDCWD, fresh_path, AT_FDCWD, path, RENAME_EXCHANGE) != 0) {
    ::unlink(fresh_path);
    ::close(fresh);
    (void)::ftruncate(fd_, 0);
    return;
  }
  WithSuffix(path, 1, to);
  ::rename(fresh_path, to);  // The old file (swapped to <file>.0) becomes <file>.1.
  ::dup2(fresh, fd_);        // Closes the old file (and its lock).
  ::close(fresh);
}

void RunLogWriterChild(int in_fd, int log_fd, LogRotation rotation) {
  struct sigaction ignore;
  std::memset(&ignore, 0, sizeof(ignore));
  ignore.sa_handler = SIG_IGN;
  for (int sig : {SIGTERM, SIGINT, SIGHUP, SIGPIPE}) ::sigaction(sig, &ignore, nullptr);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::prctl(PR_SET_NAME, "lumen-logwriter");
  // Only the pipe and the file stay open (at 3 and 4): the forking
  // process's sockets and its stdout must not live on in the writer.
  int in = ::fcntl(in_fd, F_DUPFD, 100);
  int out = ::fcntl(log_fd, F_DUPFD, 100);
  if (in < 0 || out < 0) ::_exit(1);
  int devnull = ::open("/dev/null", O_RDWR);
  for (int fd = 0; fd <= 2; ++fd) ::dup2(devnull, fd);
  ::dup2(in, 3);
  ::dup2(out, 4);
  CloseFrom(5);
  RotatingLogWriter writer(4, rotation);
  char buffer[65536];
  while (true) {
    ssize_t n = ::read(3, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    writer.Write(buffer, static_cast<size_t>(n));
  }
  ::_exit(0);
}

bool WaitForLogWriter(const std::string& log_file, int timeout_ms) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    // The file is opened again each time: the one opened before may have
    // been rotated away (and unlocked) since.
    const int fd = ::open(log_file.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) return true;  // No such log, so no writer of it.
    struct stat opened;
    struct stat current;
    const bool free = ::flock(fd, LOCK_SH | LOCK_NB) == 0 && ::fstat(fd, &opened) == 0 &&
                      ::stat(log_file.c_str(), &current) == 0 && opened.st_ino == current.st_ino;
    ::close(fd);
    if (free) return true;
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

}  // namespace lumen
