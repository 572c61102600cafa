// tests/plasma_harness.h
//
// Harness for cross-process plasma tests and the plasma benchmark: runs the
// real lumen-plasma daemon on a socket in a fresh 0700 temp directory, and
// forks helper processes into the same process group. The destructor kills
// the whole group (SIGKILL) and reaps it, so nothing outlives a failed test;
// every child also gets PR_SET_PDEATHSIG so it dies with the test process
// even when the test itself is killed by the CTest timeout.
// Threading: single-threaded test code only (fork).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace lumen::plasma::testing {

class StoreProcessGroup {
 public:
  // Starts `binary` with --object-store-memory `memory` plus `extra_args`
  // and waits (up to 10 s) until a client can connect.
  StoreProcessGroup(const std::string& binary, uint64_t memory, std::vector<std::string> extra_args = {});
  ~StoreProcessGroup();
  StoreProcessGroup(const StoreProcessGroup&) = delete;
  StoreProcessGroup& operator=(const StoreProcessGroup&) = delete;

  const std::string& socket_path() const { return socket_path_; }
  pid_t store_pid() const { return store_pid_; }
  bool ready() const { return ready_; }

  // Forks a child in the group that runs `body` and exits with its result.
  pid_t Fork(const std::function<int()>& body);
  // Waits up to `timeout` for `pid`; returns its exit status, or -1 on
  // timeout or death by signal.
  int Wait(pid_t pid, std::chrono::milliseconds timeout = std::chrono::seconds(60));

 private:
  std::string dir_;
  std::string socket_path_;
  pid_t store_pid_ = -1;
  bool ready_ = false;
  std::vector<pid_t> children_;
};

// This process's RssAnon from /proc/self/status, in bytes.
uint64_t RssAnonBytes();

}  // namespace lumen::plasma::testing
