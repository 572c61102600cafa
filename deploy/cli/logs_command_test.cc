#include "deploy/cli/logs_command.h"

#include <catch2/catch.hpp>

namespace lumen::cli {
namespace {

const std::vector<LogFile> kFiles = {
    {"gcs.out", 10},
    {"raylet.out", 2048},
    {"raylet.out.1", 4096},
    {"worker-aa11-4242.out", 5},
    {"worker-aa11-4242.out.1", 7},
    {"worker-bb22-77.out", 1},
};

TEST_CASE("LogOfPid finds a worker's file by its pid, a daemon's through the pids file") {
  CHECK(*LogOfPid(kFiles, {}, 4242) == "worker-aa11-4242.out");
  CHECK(*LogOfPid(kFiles, {}, 77) == "worker-bb22-77.out");
  CHECK(*LogOfPid(kFiles, {{"raylet", 99}, {"gcs", 98}}, 99) == "raylet.out");
  auto missing = LogOfPid(kFiles, {}, 42);  // 4242 ends in 42, but is not 42.
  REQUIRE(!missing.ok());
  CHECK(missing.status().message() == "no log file of pid 42 on this node");
}

TEST_CASE("LogOfWorker finds the current file of a worker id") {
  CHECK(*LogOfWorker(kFiles, "aa11", 4242) == "worker-aa11-4242.out");
  CHECK(*LogOfWorker(kFiles, "aa11", 0) == "worker-aa11-4242.out");
  CHECK(!LogOfWorker(kFiles, "cc33", 1).ok());
}

TEST_CASE("LastLines keeps the last N lines, with or without a final newline") {
  CHECK(LastLines("a\nb\nc\n", 2) == "b\nc\n");
  CHECK(LastLines("a\nb\nc", 2) == "b\nc");
  CHECK(LastLines("a\nb\n", 5) == "a\nb\n");
  CHECK(LastLines("a\nb\n", 0).empty());
}

TEST_CASE("the listing shows sizes and names; bad names are refused") {
  const std::string list = FormatLogList("/s/logs", {{"gcs.out", 10}, {"raylet.out", 3 * 1024 * 1024}});
  CHECK(list ==
        "Log files in /s/logs (`lumen logs NAME` prints one):\n"
        "      10 B  gcs.out\n"
        "   3.0 MiB  raylet.out\n");
  CHECK(CheckLogFileName("raylet.out").ok());
  CHECK(!CheckLogFileName("../token").ok());
  CHECK(!CheckLogFileName("..").ok());
  CHECK(CheckLogFileName("a/b").message() == "\"a/b\" is not a log file name (`lumen logs` lists them)");
}

}  // namespace
}  // namespace lumen::cli
