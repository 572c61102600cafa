#include "deploy/local_processes.h"

#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <set>

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

TEST_CASE("SplitCmdline") {
  std::string raw("/usr/bin/lumen-gcs\0--port\0" "6379\0", 30);
  auto argv = SplitCmdline(raw);
  REQUIRE(argv.size() == 3);
  CHECK(argv[0] == "/usr/bin/lumen-gcs");
  CHECK(argv[2] == "6379");
}

TEST_CASE("a Lumen daemon is a lumen-* binary beside the other daemon binaries") {
  const std::set<std::string> install = {"/opt/lumen/bin/lumen-gcs", "/opt/lumen/bin/lumen-raylet",
                                         "/opt/lumen/bin/lumen-plasma",
                                         "/opt/lumen/bin/lumen-worker", "/home/eve/lumen-gcs"};
  auto exists = [&](const std::string& path) { return install.count(path) > 0; };
  CHECK(IsLumenDaemonExe("/opt/lumen/bin/lumen-gcs", exists));
  CHECK(IsLumenDaemonExe("/opt/lumen/bin/lumen-worker", exists));
  CHECK(IsLumenDaemonExe("/opt/lumen/bin/lumen-dashboard", exists));
  CHECK(IsLumenDaemonExe("/opt/lumen/bin/lumen-raylet (deleted)", exists));  // Rebuilt meanwhile.
  CHECK_FALSE(IsLumenDaemonExe("/home/eve/lumen-gcs", exists));  // Alone: not an installation.
  CHECK_FALSE(IsLumenDaemonExe("/opt/lumen/bin/lumen", exists));  // The CLI is not a daemon.
  CHECK_FALSE(IsLumenDaemonExe("/usr/bin/bash", exists));
  CHECK_FALSE(IsLumenDaemonExe("", exists));
}

TEST_CASE("ParseStatusUids reads the real and effective uid") {
  CHECK(ParseStatusUids("Name:\tsleep\nUid:\t1001\t0\t0\t0\nGid:\t0\t0\t0\t0\n") ==
        std::make_pair(uid_t{1001}, uid_t{0}));
  CHECK_FALSE(ParseStatusUids("Name:\tsleep\n").has_value());
  CHECK_FALSE(ParseStatusUids("Uid:\tx\n").has_value());
}

TEST_CASE("our own process is identified by the kernel's view of it") {
  auto self = ReadProcessIdentity(::getpid());
  REQUIRE(self.has_value());
  CHECK(self->real_uid == ::getuid());
  CHECK(self->effective_uid == ::geteuid());
  CHECK_FALSE(self->exe.empty());
  CHECK_FALSE(self->argv.empty());
  CHECK_FALSE(ReadProcessIdentity(-5).has_value());
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
  CHECK(EnvironNamesSessionUnder(env, ""));  // Any session.
  CHECK_FALSE(EnvironNamesSessionUnder(std::string("LUMEN_SESSION_DIR=\0", 19), ""));
  CHECK_FALSE(EnvironNamesSessionUnder("HOME=/root", ""));
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
