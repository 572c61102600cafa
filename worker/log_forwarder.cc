#include "worker/log_forwarder.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

namespace lumen::worker {

absl::StatusOr<std::unique_ptr<LogForwarder>> LogForwarder::Start(const std::string& log_path,
                                                                  PrefixFn prefix, SendFn send) {
  int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
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
    (void)!::write(log_fd_, buf, n);
    pending.append(buf, n);
    std::vector<rpc::LogLine> lines;
    std::string prefix = prefix_();
    size_t start = 0, nl;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      rpc::LogLine line;
      line.set_prefix(prefix);
      line.set_line(pending.substr(start, nl - start));
      lines.push_back(std::move(line));
      start = nl + 1;
    }
    pending.erase(0, start);
    if (!lines.empty()) send_(std::move(lines));
  }
}

}  // namespace lumen::worker
