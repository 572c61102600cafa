#include "deploy/readiness.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include <catch2/catch.hpp>

namespace lumen::deploy {
namespace {

std::string TempFile(const std::string& contents) {
  char path[] = "/tmp/lumen-readiness-XXXXXX";
  int fd = ::mkstemp(path);
  ::close(fd);
  std::ofstream(path) << contents;
  return path;
}

TEST_CASE("DescribeDaemonFailure quotes the daemon's own error line") {
  const std::string log = TempFile("I1126 starting\nlumen-gcs: cannot connect to Redis\n");
  std::string message = DescribeDaemonFailure({"gcs", 1, log}, "exited during startup");
  CHECK(message == "lumen-gcs exited during startup: cannot connect to Redis (log: " + log + ")");
  ::unlink(log.c_str());
}

TEST_CASE("DescribeDaemonFailure falls back to the log tail") {
  const std::string log = TempFile("line one\nline two\n");
  std::string message = DescribeDaemonFailure({"raylet", 1, log}, "did not start");
  CHECK(message.find("lumen-raylet did not start; last lines of") == 0);
  CHECK(message.find("\n    line two") != std::string::npos);
  ::unlink(log.c_str());
  CHECK(DescribeDaemonFailure({"plasma", 1, "/nonexistent"}, "x") ==
        "lumen-plasma x (log: /nonexistent)");
}

TEST_CASE("TailOfFile keeps the last lines") {
  const std::string log = TempFile("1\n2\n3\n4\n");
  CHECK(TailOfFile(log, 2) == "\n    3\n    4");
  ::unlink(log.c_str());
}

TEST_CASE("CheckPortFree sees a listener and foreign addresses") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int port = ntohs(addr.sin_port);
  CHECK(absl::IsAlreadyExists(CheckPortFree("127.0.0.1", port)));
  ::close(fd);
  CHECK(CheckPortFree("127.0.0.1", port).ok());
  CHECK(absl::IsInvalidArgument(CheckPortFree("192.0.2.77", port)));  // TEST-NET: not ours.
  CHECK(absl::IsInvalidArgument(CheckPortFree("not-an-ip", port)));
}

}  // namespace
}  // namespace lumen::deploy
