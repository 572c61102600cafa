// worker/log_forwarder.h
//
// In a worker, LogForwarder turns the process's stdout and stderr into a
// pipe read by one thread. Each line is appended to the worker's log file
// and sent to the job's driver, prefixed with the running task's name and
// the pid, as Ray does: "(fetch_data pid=8068) Fetching from api...".
// Lines are batched per read. Threading: own reader thread; the prefix and
// send functions are called from it; Drain from the task thread. Failure: a driver that cannot be
// reached only loses the forwarded copy; the log file keeps every line.
// A line carrying kLocalOnlyLogMarker stays in the log file (without the
// marker) and is not sent to the driver.
#pragma once

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/worker.pb.h"

namespace lumen::worker {

// Put anywhere in a log line (e.g. `LOG(WARNING) << kLocalOnlyLogMarker
// << ...`), keeps it out of the driver's terminal: for the worker's own
// diagnostics that a remote peer can cause at will (refused task-channel
// connections) and that say nothing about the user's tasks. Where no
// forwarder runs (drivers, tests) the marker shows as "lumen-local".
inline constexpr char kLocalOnlyLogMarker[] = "\x1flumen-local\x1f ";

// Removes kLocalOnlyLogMarker from `line`; true when it was there.
bool TakeLocalOnlyMarker(std::string* line);

class LogForwarder {
 public:
  using PrefixFn = std::function<std::string()>;
  using SendFn = std::function<void(std::vector<rpc::LogLine>&&)>;

  static absl::StatusOr<std::unique_ptr<LogForwarder>> Start(const std::string& log_path,
                                                             PrefixFn prefix, SendFn send);
  ~LogForwarder();

  // Waits (up to `timeout_ms`) until everything written to stdout/stderr so
  // far has been read and handed to `send`, which the forwarder calls
  // synchronously: the task's lines reach the driver before its result.
  // When output is pending it writes a marker line into the pipe and waits
  // for the reader to pass it (the marker itself is never forwarded).
  void Drain(int timeout_ms);

 private:
  LogForwarder(int read_fd, int log_fd, PrefixFn prefix, SendFn send);
  void Loop();

  int read_fd_;
  int log_fd_;
  PrefixFn prefix_;
  SendFn send_;
  std::atomic<bool> busy_{false};  // Between a read with data and its send.
  std::mutex mu_;
  std::condition_variable drained_;
  uint64_t markers_seen_ = 0;  // Guarded by mu_.
  std::thread thread_;
};

}  // namespace lumen::worker
