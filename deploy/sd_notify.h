// deploy/sd_notify.h
//
// SystemdNotifier tells the service manager how a `lumen start --block` node
// is doing, with systemd's notify protocol (sd_notify(3)): one datagram of
// "KEY=value" lines to the Unix socket named by $NOTIFY_SOCKET ('@' at the
// start: an abstract socket). READY=1 once every daemon answers, STATUS=...
// lines for `systemctl status`, STOPPING=1 on shutdown, and WATCHDOG=1 pings
// when $WATCHDOG_USEC asks for them (WatchdogSec=). The protocol is a few
// lines, written here rather than linking libsystemd: that way the variables
// are taken out of the environment before the daemons start, so they never
// talk to systemd in the node's name (libsystemd's sd_notify reads the
// variable at every call). Without $NOTIFY_SOCKET every call does nothing.
// Threading: one thread (the foreground loop). Failure: a datagram that
// cannot be sent is dropped; Send says so.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/status.h"

namespace lumen::deploy {

class SystemdNotifier {
 public:
  // Takes NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID from this process's
  // environment (and removes them). The watchdog is on when WATCHDOG_USEC is
  // a positive number and WATCHDOG_PID, if set, is this process.
  static SystemdNotifier FromEnvironment();
  SystemdNotifier() = default;
  explicit SystemdNotifier(std::string socket, int64_t watchdog_usec = 0)
      : socket_(std::move(socket)), watchdog_usec_(watchdog_usec) {}

  bool enabled() const { return !socket_.empty(); }
  // The WatchdogSec interval in microseconds; 0: no watchdog.
  int64_t watchdog_usec() const { return enabled() ? watchdog_usec_ : 0; }

  // Sends `message` ("READY=1\nSTATUS=...") as one datagram.
  absl::Status Send(const std::string& message) const;
  void Ready(const std::string& status) const { (void)Send("READY=1\nSTATUS=" + status); }
  void Status(const std::string& status) const { (void)Send("STATUS=" + status); }
  void Stopping(const std::string& status) const { (void)Send("STOPPING=1\nSTATUS=" + status); }
  void WatchdogPing() const { (void)Send("WATCHDOG=1"); }

 private:
  std::string socket_;
  int64_t watchdog_usec_ = 0;
};

}  // namespace lumen::deploy
