#include "plasma/socket_io.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "plasma/fd_passing.h"

namespace lumen::plasma {

namespace {
absl::Status Unavailable(const std::string& what) {
  return absl::UnavailableError("plasma store: " + what + ": " + std::strerror(errno));
}
}  // namespace

absl::StatusOr<Greeting> ConnectToStore(const std::string& socket_path) {
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (socket_path.size() >= sizeof(address.sun_path)) {
    return absl::InvalidArgumentError("socket path too long: " + socket_path);
  }
  std::memcpy(address.sun_path, socket_path.c_str(), socket_path.size() + 1);
  Greeting greeting;
  greeting.socket = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (greeting.socket < 0) return Unavailable("socket");
  if (::connect(greeting.socket, reinterpret_cast<sockaddr*>(&address), sizeof(address)) != 0) {
    absl::Status status = Unavailable("connect to " + socket_path);
    ::close(greeting.socket);
    return status;
  }
  FrameBuffer input;
  size_t available = 0;
  char* space = input.WritableSpace(256, &available);
  // The store sends the greeting in one sendmsg, fd attached.
  std::vector<int> fds;
  absl::StatusOr<size_t> got = ReceiveWithFds(greeting.socket, space, available, &fds);
  if (got.ok() && !fds.empty()) greeting.arena_fd = fds[0];
  if (got.ok() && fds.size() > 1) greeting.index_fd = fds[1];
  for (size_t i = 2; i < fds.size(); ++i) ::close(fds[i]);
  absl::StatusOr<std::optional<Frame>> frame = absl::UnavailableError("no greeting");
  if (got.ok()) {
    input.Commit(*got);
    frame = input.Next();
  }
  ConnectReply reply;
  if (!got.ok() || !frame.ok() || !frame->has_value() || (*frame)->type != CONNECT_REPLY ||
      !ParseBody(**frame, &reply) || greeting.arena_fd < 0) {
    ::close(greeting.socket);
    if (greeting.arena_fd >= 0) ::close(greeting.arena_fd);
    if (greeting.index_fd >= 0) ::close(greeting.index_fd);
    return got.ok() ? absl::UnavailableError("bad greeting from the plasma store") : got.status();
  }
  greeting.arena_size = reply.arena_size();
  greeting.index_size = greeting.index_fd >= 0 ? reply.index_size() : 0;
  greeting.index_slot = greeting.index_fd >= 0 ? static_cast<int>(reply.index_slot()) : 0;
  return greeting;
}

absl::Status WriteAll(int socket, const std::string& bytes) {
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t sent = ::send(socket, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      return Unavailable("write");
    }
    done += static_cast<size_t>(sent);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::optional<Frame>> ReadFrame(int socket, FrameBuffer& input, int64_t timeout_ms) {
  while (true) {
    auto frame = input.Next();
    if (!frame.ok()) return absl::InternalError("bad frame from the store: " + std::string(frame.status().message()));
    if (frame->has_value()) return frame;
    if (timeout_ms >= 0) {
      pollfd waiting{socket, POLLIN, 0};
      int ready = ::poll(&waiting, 1, static_cast<int>(timeout_ms));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return Unavailable("poll");
      if (ready == 0) return std::nullopt;
    }
    size_t available = 0;
    char* space = input.WritableSpace(64 * 1024, &available);
    ssize_t got = ::recv(socket, space, available, 0);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Unavailable("read");
    if (got == 0) return absl::UnavailableError("plasma store closed the connection");
    input.Commit(static_cast<size_t>(got));
  }
}

}  // namespace lumen::plasma
