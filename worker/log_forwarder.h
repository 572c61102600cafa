// worker/log_forwarder.h
//
// In a worker, LogForwarder turns the process's stdout and stderr into a
// pipe read by one thread. Each line is appended to the worker's log file
// and sent to the job's driver, prefixed with the running task's name and
// the pid, as Ray does: "(fetch_data pid=8068) Fetching from api...".
// Lines are batched per read. Threading: own reader thread; the prefix and
// send functions are called from it. Failure: a driver that cannot be
// reached only loses the forwarded copy; the log file keeps every line.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "proto/worker.pb.h"

namespace lumen::worker {

class LogForwarder {
 public:
  using PrefixFn = std::function<std::string()>;
  using SendFn = std::function<void(std::vector<rpc::LogLine>&&)>;

  static absl::StatusOr<std::unique_ptr<LogForwarder>> Start(const std::string& log_path,
                                                             PrefixFn prefix, SendFn send);
  ~LogForwarder();

 private:
  LogForwarder(int read_fd, int log_fd, PrefixFn prefix, SendFn send);
  void Loop();

  int read_fd_;
  int log_fd_;
  PrefixFn prefix_;
  SendFn send_;
  std::thread thread_;
};

}  // namespace lumen::worker
