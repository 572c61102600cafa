#include "deploy/sd_notify.h"

#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <cstring>
#include <string>

namespace lumen::deploy {
namespace {

// A datagram socket bound to `name` ('@' at the start: abstract), as
// systemd's notify socket.
class NotifySocket {
 public:
  explicit NotifySocket(const std::string& name) : name_(name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name.data(), name.size());
    if (name[0] == '@') address.sun_path[0] = '\0';
    const socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) == 0);
    timeval timeout{10, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  }
  ~NotifySocket() {
    ::close(fd_);
    if (name_[0] == '/') ::unlink(name_.c_str());
  }
  std::string Receive() {
    char buffer[4096];
    ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, n) : "";
  }

 private:
  std::string name_;
  int fd_ = -1;
};

TEST_CASE("the notifier sends READY, STATUS, STOPPING and WATCHDOG datagrams") {
  const std::string path = "/tmp/lumen-notify-" + std::to_string(::getpid());
  NotifySocket socket(path);
  SystemdNotifier notifier(path, 2000000);
  CHECK(notifier.enabled());
  CHECK(notifier.watchdog_usec() == 2000000);
  notifier.Ready("serving");
  CHECK(socket.Receive() == "READY=1\nSTATUS=serving");
  notifier.WatchdogPing();
  CHECK(socket.Receive() == "WATCHDOG=1");
  notifier.Stopping("bye");
  CHECK(socket.Receive() == "STOPPING=1\nSTATUS=bye");
}

TEST_CASE("an abstract notify socket ('@' first) is reached too") {
  const std::string name = "@lumen-notify-test-" + std::to_string(::getpid());
  NotifySocket socket(name);
  SystemdNotifier notifier(name);
  notifier.Status("hello");
  CHECK(socket.Receive() == "STATUS=hello");
}

TEST_CASE("FromEnvironment takes the variables out; the watchdog is for WATCHDOG_PID only") {
  ::setenv("NOTIFY_SOCKET", "/run/x", 1);
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  SystemdNotifier mine = SystemdNotifier::FromEnvironment();
  CHECK(mine.enabled());
  CHECK(mine.watchdog_usec() == 3000000);
  CHECK(std::getenv("NOTIFY_SOCKET") == nullptr);
  CHECK(std::getenv("WATCHDOG_USEC") == nullptr);
  CHECK(std::getenv("WATCHDOG_PID") == nullptr);
  ::setenv("NOTIFY_SOCKET", "/run/x", 1);
  ::setenv("WATCHDOG_USEC", "3000000", 1);
  ::setenv("WATCHDOG_PID", "1", 1);
  CHECK(SystemdNotifier::FromEnvironment().watchdog_usec() == 0);
  SystemdNotifier none = SystemdNotifier::FromEnvironment();
  CHECK(!none.enabled());
  CHECK(none.Send("READY=1").ok());  // Nothing to do.
  CHECK(!SystemdNotifier("relative").Send("READY=1").ok());
}

}  // namespace
}  // namespace lumen::deploy
