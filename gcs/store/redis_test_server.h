// gcs/store/redis_test_server.h
//
// RedisTestServer runs a throw-away redis-server for tests: on a free port,
// without persistence, in its own process group, killed by the destructor
// (and by the kernel if the test process dies first). Test-only code.
// Threading: one test thread. Failure: Start() fails when redis-server is
// missing ($LUMEN_REDIS_SERVER or /usr/bin/redis-server) or never answers.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace lumen::gcs {

class RedisTestServer {
 public:
  // `extra_args` are appended to the command line, e.g. {"--requirepass", "pw"}.
  static absl::StatusOr<std::unique_ptr<RedisTestServer>> Start(
      std::vector<std::string> extra_args = {});
  ~RedisTestServer();
  RedisTestServer(const RedisTestServer&) = delete;
  RedisTestServer& operator=(const RedisTestServer&) = delete;

  // Kills the server and waits for it to exit.
  void Kill();
  // Kills it and starts a fresh one (empty) on the same port.
  absl::Status Restart();

  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  RedisTestServer(std::string binary, int port, std::vector<std::string> extra_args)
      : binary_(std::move(binary)), port_(port), extra_args_(std::move(extra_args)) {}
  absl::Status Launch();

  std::string binary_;
  int port_;
  std::vector<std::string> extra_args_;
  pid_t pid_ = -1;
};

// A TCP port on 127.0.0.1 that was free a moment ago.
int PickFreePort();

}  // namespace lumen::gcs
