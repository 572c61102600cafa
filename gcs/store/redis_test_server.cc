#include "gcs/store/redis_test_server.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <thread>

#include "common/process.h"

namespace lumen::gcs {
namespace {

// True once something accepts connections and answers PING (even with an
// auth error: that is an answer too).
bool Answers(int port) {
  timeval tv{0, 200 * 1000};
  redisContext* ctx = redisConnectWithTimeout("127.0.0.1", port, tv);
  bool ok = false;
  if (ctx != nullptr && ctx->err == 0) {
    void* reply = redisCommand(ctx, "PING");
    ok = reply != nullptr;
    if (reply) freeReplyObject(reply);
  }
  if (ctx) redisFree(ctx);
  return ok;
}

}  // namespace

int PickFreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

absl::StatusOr<std::unique_ptr<RedisTestServer>> RedisTestServer::Start(
    std::vector<std::string> extra_args) {
  const char* env = std::getenv("LUMEN_REDIS_SERVER");
  std::string binary = env && *env ? env : "/usr/bin/redis-server";
  std::unique_ptr<RedisTestServer> server(
      new RedisTestServer(binary, PickFreePort(), std::move(extra_args)));
  if (auto st = server->Launch(); !st.ok()) return st;
  return server;
}

RedisTestServer::~RedisTestServer() { Kill(); }

absl::Status RedisTestServer::Launch() {
  ProcessOptions options;
  options.argv = {binary_,  "--port", std::to_string(port_), "--bind", "127.0.0.1",
                  "--save", "",       "--appendonly",        "no",     "--dir",
                  "/tmp"};
  options.argv.insert(options.argv.end(), extra_args_.begin(), extra_args_.end());
  options.log_file = "/dev/null";
  options.die_with_parent = true;
  auto pid = StartProcess(options);
  if (!pid.ok()) return pid.status();
  pid_ = *pid;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (Answers(port_)) return absl::OkStatus();
    if (!ProcessAlive(pid_)) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Kill();
  return absl::UnavailableError("redis-server on port " + std::to_string(port_) + " did not start");
}

void RedisTestServer::Kill() {
  if (pid_ <= 0) return;
  KillProcessGroup(pid_, SIGKILL);
  WaitForExit(pid_, 5000);
  pid_ = -1;
}

absl::Status RedisTestServer::Restart() {
  Kill();
  return Launch();
}

}  // namespace lumen::gcs
