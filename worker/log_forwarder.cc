#include "worker/log_forwarder.h"

#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>

#include <cstdio>
#include <cstring>

namespace lumen::worker {
namespace {
constexpr char kDrainMarker[] = "\x1flumen-log-drain\x1f";
}  // namespace

bool TakeLocalOnlyMarker(std::string* line) {
  size_t at = line->find(kLocalOnlyLogMarker);
  if (at == std::string::npos) return false;
  line->erase(at, sizeof(kLocalOnlyLogMarker) - 1);
  return true;
}

absl::StatusOr<std::unique_ptr<LogForwarder>> LogForwarder::Start(const std::string& log_path,
                                                                  PrefixFn prefix, SendFn send) {
  // A stdout that is a pipe is the raylet's log writer, which rotates the
  // file (common/log_rotation.h): the lines go on through it.
  struct stat out;
  int log_fd = ::fstat(1, &out) == 0 && S_ISFIFO(out.st_mode)
                   ? ::fcntl(1, F_DUPFD_CLOEXEC, 3)
                   : ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (log_fd < 0) return absl::PermissionDeniedError("cannot open " + log_path + ": " + strerror(errno));
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    ::close(log_fd);
    return absl::InternalError(std::string("pipe: ") + strerror(errno));
  }
  std::fflush(stdout);
  std::fflush(stderr);
  ::dup2(fds[1], 1);
  ::dup2(fds[1], 2);
  ::close(fds[1]);
  // Line-buffered, so each printed line reaches the driver promptly.
  std::setvbuf(stdout, nullptr, _IOLBF, 0);
  return std::unique_ptr<LogForwarder>(new LogForwarder(fds[0], log_fd, std::move(prefix), std::move(send)));
}

LogForwarder::LogForwarder(int read_fd, int log_fd, PrefixFn prefix, SendFn send)
    : read_fd_(read_fd), log_fd_(log_fd), prefix_(std::move(prefix)), send_(std::move(send)) {
  thread_ = std::thread([this] { Loop(); });
  thread_.detach();  // Lives as long as the process; the pipe never closes before exit.
}

LogForwarder::~LogForwarder() = default;

void LogForwarder::Loop() {
  std::string pending;
  char buf[16384];
  while (true) {
    ssize_t n = ::read(read_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    busy_ = true;
    pending.append(buf, n);
    std::vector<rpc::LogLine> lines;
    std::string prefix = prefix_();
    size_t start = 0, nl;
    int markers = 0;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      std::string text = pending.substr(start, nl - start);
      start = nl + 1;
      // A marker ends its own line, or a partial line the task left
      // unterminated, which then goes out as a line of its own.
      if (size_t m = text.find(kDrainMarker); m != std::string::npos) {
        ++markers;
        text.erase(m, sizeof(kDrainMarker) - 1);
        if (text.empty()) continue;
      }
      bool local_only = TakeLocalOnlyMarker(&text);
      std::string with_newline = text + "\n";
      (void)!::write(log_fd_, with_newline.data(), with_newline.size());
      if (local_only) continue;
      rpc::LogLine line;
      line.set_prefix(prefix);
      line.set_line(std::move(text));
      lines.push_back(std::move(line));
    }
    pending.erase(0, start);
    if (!lines.empty()) send_(std::move(lines));
    busy_ = false;
    if (markers > 0) {
      std::lock_guard<std::mutex> lock(mu_);
      markers_seen_ += markers;
      drained_.notify_all();
    }
  }
}

void LogForwarder::Drain(int timeout_ms) {
  int unread = 0;
  if (::ioctl(read_fd_, FIONREAD, &unread) != 0 || (unread == 0 && !busy_)) return;
  std::unique_lock<std::mutex> lock(mu_);
  uint64_t target = markers_seen_ + 1;
  std::string marker = std::string(kDrainMarker) + "\n";
  if (::write(1, marker.data(), marker.size()) != static_cast<ssize_t>(marker.size())) return;
  drained_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [&] { return markers_seen_ >= target; });
}

}  // namespace lumen::worker
