#include "deploy/readiness.h"

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

}  // namespace
}  // namespace lumen::deploy
