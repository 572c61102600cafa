// integration_systemd_notify_test: `lumen start --head --block` under a
// pretend systemd. The test binds the notify socket (a Unix datagram socket,
// as systemd does for Type=notify) and starts the real CLI with
// NOTIFY_SOCKET and WATCHDOG_USEC set, then checks: READY=1
// comes when `lumen status` already succeeds; WATCHDOG=1 pings come while
// the daemons answer and stop (with an "unhealthy" STATUS) once the raylet
// hangs; SIGTERM gives STOPPING=1 and exit 0, a dead raylet STOPPING=1 with
// the cause and exit 1.
#include <signal.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <string>

#include "tests/harness.h"

using lumen::testing::CommandResult;
using lumen::testing::ReadFile;
using lumen::testing::Sandbox;

namespace {

// The rest of the line after `key` in `text`, trimmed.
std::string ValueAfter(const std::string& text, const std::string& key) {
  const size_t at = text.find(key);
  if (at == std::string::npos) return "";
  const size_t start = text.find_first_not_of(' ', at + key.size());
  return text.substr(start, text.find('\n', start) - start);
}

}  // namespace

namespace {

class NotifySocket {
 public:
  explicit NotifySocket(const std::string& path) : path_(path) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  }
  ~NotifySocket() {
    ::close(fd_);
    ::unlink(path_.c_str());
  }
  // The next datagram; "" when none came within `timeout_s`.
  std::string Receive(int timeout_s) {
    timeval timeout{timeout_s, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    char buffer[4096];
    const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
    return n > 0 ? std::string(buffer, n) : "";
  }
  // Receives until a datagram contains `what` and returns it; what came
  // before it, in order, goes to `seen`. "" when nothing came for `timeout_s`.
  std::string ReceiveUntil(const std::string& what, int timeout_s, std::string* seen = nullptr) {
    while (true) {
      const std::string message = Receive(timeout_s);
      if (message.empty() || message.find(what) != std::string::npos) return message;
      if (seen) *seen += message + "\n";
    }
  }

 private:
  std::string path_;
  int fd_ = -1;
};


// `lumen start --head --block` with the notify socket and a 4 s watchdog
// (a ping every 2 s, each after a probe of up to 1 s); waits for READY=1.
struct BlockingHead {
  explicit BlockingHead(Sandbox& sandbox) : notify(sandbox.root() + "/notify.sock") {
    const int port = Sandbox::FreePort();
    pid = sandbox.Spawn("block",
                        {Sandbox::BinDir() + "/lumen", "start", "--head", "--block", "--port",
                         std::to_string(port), "--num-cpus", "1", "--object-store-memory", "64000000"},
                        {{"NOTIFY_SOCKET", sandbox.root() + "/notify.sock"}, {"WATCHDOG_USEC", "4000000"}});
    REQUIRE(pid > 0);
    // Nothing but READY=1 (with its STATUS) is sent before the node serves.
    ready = notify.Receive(90);
    output = ReadFile(sandbox.root() + "/block.out");
    session = Sandbox::SessionDirFromOutput(output);
    gcs_port = port;
  }
  NotifySocket notify;
  pid_t pid = -1;
  int gcs_port = 0;
  std::string ready;
  std::string output;
  std::string session;
};

}  // namespace

TEST_CASE("--block under systemd: READY once the node serves, watchdog pings, STOPPING on SIGTERM") {
  Sandbox sandbox;
  BlockingHead head(sandbox);
  INFO("block.out: " << head.output);
  // The GCS at the head's advertised address (detected: docs/operations.md).
  REQUIRE_THAT(head.ready, Catch::StartsWith("READY=1\nSTATUS=serving: GCS "));
  REQUIRE_THAT(head.ready, Catch::Contains(":" + std::to_string(head.gcs_port)));
  // At READY the cluster answers at once: no waiting here.
  CommandResult status = sandbox.Lumen({"status"}, {}, 20000);
  INFO(status.Describe());
  CHECK(status.exit_code == 0);
  CHECK_THAT(status.out, Catch::Contains("ALIVE"));
  // The daemons do not inherit the notify socket.
  auto pids = sandbox.SessionPids(head.session);
  REQUIRE(pids.count("raylet") == 1);
  for (const auto& entry : lumen::testing::EnvironOf(pids["raylet"])) {
    CHECK(entry.rfind("NOTIFY_SOCKET=", 0) != 0);
    CHECK(entry.rfind("WATCHDOG_USEC=", 0) != 0);
  }
  // Watchdog pings while every daemon answers.
  CHECK(!head.notify.ReceiveUntil("WATCHDOG=1", 30).empty());
  CHECK(!head.notify.ReceiveUntil("WATCHDOG=1", 30).empty());
  // SIGTERM: STOPPING=1 before the daemons stop, then exit 0.
  REQUIRE(::kill(head.pid, SIGTERM) == 0);
  CHECK(!head.notify.ReceiveUntil("STOPPING=1", 30).empty());
  CHECK(sandbox.WaitForChild(head.pid, 30000) == 0);
}

TEST_CASE("--block under systemd: a hung raylet stops the watchdog pings; a dead one ends the node") {
  Sandbox sandbox;
  BlockingHead head(sandbox);
  INFO("block.out: " << head.output);
  REQUIRE_THAT(head.ready, Catch::StartsWith("READY=1"));
  auto pids = sandbox.SessionPids(head.session);
  REQUIRE(pids.count("raylet") == 1);
  CHECK(!head.notify.ReceiveUntil("WATCHDOG=1", 30).empty());
  // A raylet that hangs (stopped, its process still there): no more pings.
  REQUIRE(::kill(pids["raylet"], SIGSTOP) == 0);
  std::string before;
  const std::string unhealthy =
      head.notify.ReceiveUntil("STATUS=unhealthy, watchdog not pinged: ", 30, &before);
  // The raylet does not answer; or, on a slow machine, the GCS has already
  // declared it dead by the first probe.
  CHECK_THAT(unhealthy, Catch::Contains("lumen-raylet at " + ValueAfter(head.output, "Raylet address:") +
                                        " does not answer") ||
                            Catch::Contains("as alive"));
  // At most a ping already on its way when the raylet stopped came before.
  CHECK(before.size() <= std::string("WATCHDOG=1\n").size());
  // Then the raylet dies (and the object store with it, as it does when its
  // raylet goes): the node stops, saying why, and exits 1, so that
  // systemd's Restart=on-failure restarts it. Until then: no ping.
  REQUIRE(::kill(pids["raylet"], SIGKILL) == 0);
  std::string between;
  const std::string stopping = head.notify.ReceiveUntil("STOPPING=1\nSTATUS=failed: lumen-", 30, &between);
  INFO("received before STOPPING: " << between);
  CHECK_THAT(stopping, Catch::Contains(") exited unexpectedly"));
  CHECK(between.find("WATCHDOG=1") == std::string::npos);
  CHECK(sandbox.WaitForChild(head.pid, 30000) == 1);
}
