#include "deploy/sd_notify.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "absl/strings/numbers.h"

namespace lumen::deploy {

SystemdNotifier SystemdNotifier::FromEnvironment() {
  auto take = [](const char* name) {
    const char* value = std::getenv(name);
    std::string text = value ? value : "";
    ::unsetenv(name);
    return text;
  };
  const std::string socket = take("NOTIFY_SOCKET");
  const std::string usec_text = take("WATCHDOG_USEC");
  const std::string pid_text = take("WATCHDOG_PID");
  int64_t usec = 0;
  if (!absl::SimpleAtoi(usec_text, &usec) || usec < 0) usec = 0;
  int64_t pid = 0;
  if (!pid_text.empty() && (!absl::SimpleAtoi(pid_text, &pid) || pid != ::getpid())) usec = 0;
  return SystemdNotifier(socket, usec);
}

absl::Status SystemdNotifier::Send(const std::string& message) const {
  if (socket_.empty()) return absl::OkStatus();
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_.size() >= sizeof(address.sun_path) || (socket_[0] != '/' && socket_[0] != '@')) {
    return absl::InvalidArgumentError("NOTIFY_SOCKET is not a socket path: " + socket_);
  }
  std::memcpy(address.sun_path, socket_.data(), socket_.size());
  if (socket_[0] == '@') address.sun_path[0] = '\0';  // An abstract socket.
  const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + socket_.size());
  const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(std::string("socket: ") + std::strerror(errno));
  const ssize_t sent = ::sendto(fd, message.data(), message.size(), MSG_NOSIGNAL,
                                reinterpret_cast<const sockaddr*>(&address), length);
  const int error = errno;
  ::close(fd);
  if (sent != static_cast<ssize_t>(message.size())) {
    return absl::UnavailableError("cannot notify " + socket_ + ": " + std::strerror(error));
  }
  return absl::OkStatus();
}

}  // namespace lumen::deploy
