// A driver joining a cluster started with `lumen start` (RAY_ADDRESS), with
// its remote functions in a shared library that lumen-worker loads from the
// code search path; RayConfig::head_args for a private cluster; and the
// errors a driver sees for a cluster that is not there or a wrong token.
#include <catch2/catch.hpp>
#include <filesystem>

#include "tests/harness.h"

using lumen::testing::Sandbox;
using lumen::testing::WaitUntil;

namespace {

std::string Driver() { return Sandbox::BinDir() + "/join_driver"; }
std::string LibDir() { return std::filesystem::path(LUMEN_JOIN_TASKS_LIB).parent_path().string(); }

}  // namespace

TEST_CASE("a driver joins a running cluster and runs functions from a shared library") {
  Sandbox sandbox;
  int port = Sandbox::FreePort();
  auto start = sandbox.Lumen({"start", "--head", "--port", std::to_string(port), "--num-cpus", "2",
                              "--resources", "{\"gadget\": 5}", "--object-store-memory", "64000000"});
  REQUIRE(start.exit_code == 0);
  std::string address = "127.0.0.1:" + std::to_string(port);
  auto run = sandbox.Run({Driver(), "join", "--ray_code_search_path=" + std::string(LUMEN_JOIN_TASKS_LIB)},
                         {{"RAY_ADDRESS", address}}, 120000);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("scaled=3,-4,p'"));
  CHECK_THAT(run.out, Catch::Contains("twice_int=42"));
  CHECK_THAT(run.out, Catch::Contains("twice_str=abab"));
  CHECK_THAT(run.out, Catch::Contains("shout=hey!"));
  CHECK_THAT(run.out, Catch::Contains("(Shout pid="));  // Worker output, forwarded.
  CHECK_THAT(run.out, Catch::Contains("cpus=2"));
  CHECK_THAT(run.out, Catch::Contains("gadget=5"));
  // The job's workers (lumen-worker processes) are gone once the driver is.
  CHECK(WaitUntil(
      [&] {
        for (pid_t pid : sandbox.MarkedProcesses()) {
          std::error_code ec;
          auto exe = std::filesystem::read_symlink("/proc/" + std::to_string(pid) + "/exe", ec);
          if (!ec && exe.filename() == "lumen-worker") return false;
        }
        return true;
      },
      10000));
  // The cluster keeps serving the next driver, here with a directory as the
  // code search path.
  auto again = sandbox.Run({Driver(), "join", "--ray_code_search_path=" + LibDir()},
                           {{"RAY_ADDRESS", "auto"}}, 120000);
  INFO(again.Describe());
  CHECK(again.exit_code == 0);
  CHECK_THAT(again.out, Catch::Contains("twice_int=42"));
}

TEST_CASE("a driver pointed at nothing, or holding a wrong token, gets a clear error") {
  Sandbox sandbox;
  int port = Sandbox::FreePort();
  auto nothing = sandbox.Run({Driver(), "join"}, {{"RAY_ADDRESS", "127.0.0.1:" + std::to_string(port)},
                                                  {"LUMEN_TOKEN", "whatever"}}, 60000);
  CHECK(nothing.exit_code == 1);
  CHECK_THAT(nothing.err, Catch::Contains("cannot reach the cluster at 127.0.0.1:" + std::to_string(port)));
  REQUIRE(sandbox.Lumen({"start", "--head", "--port", std::to_string(port), "--num-cpus", "1",
                         "--object-store-memory", "64000000"}).exit_code == 0);
  auto wrong = sandbox.Run({Driver(), "join"}, {{"RAY_ADDRESS", "127.0.0.1:" + std::to_string(port)},
                                                {"LUMEN_TOKEN", "wrong"}}, 60000);
  CHECK(wrong.exit_code == 1);
  CHECK_THAT(wrong.err, Catch::Contains("missing or wrong cluster token"));
  CHECK(sandbox.Lumen({"status"}).exit_code == 0);  // The cluster keeps serving.
}

TEST_CASE("RayConfig::head_args configure the private local cluster") {
  Sandbox sandbox;
  auto run = sandbox.Run({Driver(), "head-args"}, {{"RAY_ADDRESS", "\x01unset"}}, 120000);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("cpus=3"));
  CHECK_THAT(run.out, Catch::Contains("gadget=2"));
  CHECK_THAT(run.out, Catch::Contains("twice_int=42"));
}
