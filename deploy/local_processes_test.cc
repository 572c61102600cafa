#include "deploy/local_processes.h"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/process.h"

namespace lumen::deploy {
namespace {

TEST_CASE("ParsePidsFile skips malformed lines") {
  auto entries = ParsePidsFile("gcs 100\nplasma 200\n\ngarbage\nraylet x\nraylet 1\nraylet 300\n");
  REQUIRE(entries.size() == 3);
  CHECK(entries[0].name == "gcs");
  CHECK(entries[0].pid == 100);
  CHECK(entries[2].name == "raylet");
  CHECK(entries[2].pid == 300);
}

TEST_CASE("SplitCmdline and IsLumenDaemon") {
  std::string raw("/usr/bin/lumen-gcs\0--port\0" "6379\0", 30);
  auto argv = SplitCmdline(raw);
  REQUIRE(argv.size() == 3);
  CHECK(argv[2] == "6379");
  CHECK(IsLumenDaemon(argv, ""));
  CHECK(IsLumenDaemon(argv, "gcs"));
  CHECK_FALSE(IsLumenDaemon(argv, "raylet"));
  CHECK_FALSE(IsLumenDaemon({"/usr/bin/bash", "lumen-gcs"}, ""));
  CHECK_FALSE(IsLumenDaemon({}, ""));
}

TEST_CASE("MentionsDirectory matches whole path components") {
  std::vector<std::string> argv = {"lumen-raylet", "--session-dir", "/tmp/lumen/session_1"};
  CHECK(MentionsDirectory(argv, "/tmp/lumen"));
  CHECK(MentionsDirectory(argv, "/tmp/lumen/"));
  CHECK_FALSE(MentionsDirectory(argv, "/tmp/lum"));
  CHECK_FALSE(MentionsDirectory(argv, ""));
}

TEST_CASE("EnvironNamesSessionUnder") {
  std::string env("HOME=/root\0LUMEN_SESSION_DIR=/tmp/lumen/session_1\0", 50);
  CHECK(EnvironNamesSessionUnder(env, "/tmp/lumen"));
  CHECK_FALSE(EnvironNamesSessionUnder(env, "/tmp/lum"));
  CHECK_FALSE(EnvironNamesSessionUnder("HOME=/root", "/tmp/lumen"));
}

TEST_CASE("StopProcesses stops a process group gracefully") {
  ProcessOptions options;
  options.argv = {"/bin/sleep", "30"};
  auto pid = StartProcess(options);
  REQUIRE(pid.ok());
  // Signal only after exec: before it, the child still runs our handlers.
  for (int i = 0; i < 500 && ReadCmdline(*pid) != std::vector<std::string>{"/bin/sleep", "30"}; ++i) {
    usleep(10000);
  }
  CHECK(StopProcesses({*pid}, /*force=*/false, 5000) == 1);
  CHECK_FALSE(ProcessAlive(*pid));
  CHECK(StopProcesses({*pid}, /*force=*/true, 100) == 0);  // Already gone.
}

}  // namespace
}  // namespace lumen::deploy
