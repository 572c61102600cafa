// What an operator following docs/operations.md meets (issue 15): drivers
// reaching a head started with --node-ip-address, ray::Init failures as
// exceptions with one-line causes, the hints `lumen start` prints being true,
// the record of a --block cluster going with it, and the facts of the files
// (session names, worker logs, object store size) being the documented ones.
#include <signal.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <regex>
#include <set>

#include "tests/harness.h"

using lumen::testing::CommandLineOf;
using lumen::testing::CommandResult;
using lumen::testing::Sandbox;
using lumen::testing::WaitUntil;

namespace fs = std::filesystem;

namespace {

std::string Driver() { return Sandbox::BinDir() + "/operator_driver"; }

// The value after `key` on the line of `out` that holds it ("" if none).
std::string ValueAfter(const std::string& out, const std::string& key) {
  const size_t at = out.find(key);
  if (at == std::string::npos) return "";
  const size_t start = out.find_first_not_of(' ', at + key.size());
  return out.substr(start, out.find('\n', start) - start);
}

// The value of `--flag V` or `--flag=V` on a command line.
std::string FlagOf(const std::vector<std::string>& argv, const std::string& flag) {
  for (size_t i = 0; i < argv.size(); ++i) {
    if (argv[i] == flag && i + 1 < argv.size()) return argv[i + 1];
    if (argv[i].rfind(flag + "=", 0) == 0) return argv[i].substr(flag.size() + 1);
  }
  return "";
}

CommandResult StartHead(Sandbox& sandbox, int port, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"start", "--head", "--port", std::to_string(port),
                                   "--num-cpus", "1", "--object-store-memory", "64000000"};
  args.insert(args.end(), extra.begin(), extra.end());
  return sandbox.Lumen(args);
}

}  // namespace

TEST_CASE("a driver reaches a head started with --node-ip-address (finding 1)") {
  Sandbox sandbox;
  const int port = Sandbox::FreePort();
  const std::string address = "127.0.0.2:" + std::to_string(port);
  auto start = StartHead(sandbox, port, {"--node-ip-address", "127.0.0.2"});
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  CHECK_THAT(start.out, Catch::Contains("RAY_ADDRESS=" + address + " ./my_driver"));
  for (const std::string& ray_address : {address, std::string("auto")}) {
    auto run = sandbox.Run({Driver(), "run"}, {{"RAY_ADDRESS", ray_address}}, 120000);
    INFO(ray_address << ": " << run.Describe());
    CHECK(run.exit_code == 0);
    CHECK_THAT(run.out, Catch::Contains("answer=42"));
  }
  // LUMEN_NODE_IP overrides what the driver learns: no node there.
  auto forced = sandbox.Run({Driver(), "caught"},
                            {{"RAY_ADDRESS", address}, {"LUMEN_NODE_IP", "127.0.0.3"}}, 60000);
  INFO(forced.Describe());
  CHECK(forced.exit_code == 3);
  CHECK_THAT(forced.out, Catch::Contains("no alive node on 127.0.0.3"));
  CHECK_THAT(forced.out, Catch::Contains("LUMEN_NODE_IP"));
}

TEST_CASE("a failed ray::Init throws RayException with a one-line cause (finding 5)") {
  Sandbox sandbox;
  const std::string nowhere = "127.0.0.1:" + std::to_string(Sandbox::FreePort());
  const std::map<std::string, std::string> env = {{"RAY_ADDRESS", nowhere}, {"LUMEN_TOKEN", "t"}};
  auto caught = sandbox.Run({Driver(), "caught"}, env, 60000);
  INFO(caught.Describe());
  CHECK(caught.exit_code == 3);
  CHECK_THAT(caught.out, Catch::Contains("caught: cannot reach the cluster at " + nowhere));
  CHECK(caught.err.find("terminate") == std::string::npos);
  // Not caught: one line on stderr and exit 1, no abort, no stack trace.
  auto uncaught = sandbox.Run({Driver(), "uncaught"}, env, 60000);
  INFO(uncaught.Describe());
  CHECK(uncaught.exit_code == 1);
  CHECK_THAT(uncaught.err, Catch::Contains("cannot reach the cluster at " + nowhere));
  CHECK(uncaught.err.find("terminate") == std::string::npos);
  CHECK(uncaught.err.find("***") == std::string::npos);
  CHECK(std::count(uncaught.err.begin(), uncaught.err.end(), '\n') == 1);
}

TEST_CASE("joining a cluster refuses local-cluster settings; a raylet port is named (finding 5)") {
  Sandbox sandbox;
  const int port = Sandbox::FreePort();
  auto start = StartHead(sandbox, port);
  REQUIRE(start.exit_code == 0);
  const std::string gcs = "127.0.0.1:" + std::to_string(port);
  auto cpus = sandbox.Run({Driver(), "num-cpus"}, {{"RAY_ADDRESS", gcs}}, 60000);
  INFO(cpus.Describe());
  CHECK(cpus.exit_code == 3);
  CHECK_THAT(cpus.out, Catch::Contains("num_cpus"));
  CHECK_THAT(cpus.out, Catch::Contains("existing cluster"));

  const std::string raylet = ValueAfter(start.out, "Raylet address:");
  REQUIRE(!raylet.empty());
  auto wrong_port = sandbox.Run({Driver(), "caught"}, {{"RAY_ADDRESS", raylet}}, 60000);
  INFO(wrong_port.Describe());
  CHECK(wrong_port.exit_code == 3);
  CHECK_THAT(wrong_port.out, Catch::Contains("not a GCS"));
  CHECK(wrong_port.out.find("()") == std::string::npos);
  auto status = sandbox.Lumen({"status", "--address", raylet});
  CHECK(status.exit_code == 1);
  CHECK_THAT(status.err, Catch::Contains("not a GCS"));
}

TEST_CASE("the hints of `lumen start --temp-dir D` work as printed (finding 2)") {
  Sandbox sandbox;
  const std::string other = sandbox.root() + "/other-temp";
  const int port = Sandbox::FreePort();
  auto start = StartHead(sandbox, port, {"--temp-dir", other});
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  const std::string hint = ValueAfter(start.out, "To see the cluster:");
  CHECK(hint == "lumen status --temp-dir " + other);
  auto status = sandbox.Lumen({"status", "--temp-dir", other});
  CHECK(status.exit_code == 0);
  CHECK_THAT(start.out, Catch::Contains("lumen stop"));
  auto stop = sandbox.Lumen({"stop", "--temp-dir", other});
  CHECK(stop.exit_code == 0);
  CHECK(sandbox.LumenDaemons().empty());
}

TEST_CASE("after --block ends on SIGTERM there is no running cluster recorded (finding 2)") {
  Sandbox sandbox;
  const int port = Sandbox::FreePort();
  pid_t lumen = sandbox.Spawn("block", {Sandbox::BinDir() + "/lumen", "start", "--head", "--block",
                                        "--port", std::to_string(port), "--num-cpus", "1",
                                        "--object-store-memory", "64000000"});
  REQUIRE(lumen > 0);
  REQUIRE(WaitUntil([&] { return sandbox.Lumen({"status"}, {}, 10000).exit_code == 0; }, 60000, 200));
  ::kill(lumen, SIGTERM);
  CHECK(sandbox.WaitForChild(lumen, 30000) == 0);
  auto status = sandbox.Lumen({"status"});
  CHECK(status.exit_code == 1);
  CHECK_THAT(status.err, Catch::Contains("no running cluster"));
}

TEST_CASE("session names, worker logs, store size and session_latest are as documented (finding 4)") {
  Sandbox sandbox;
  const int port = Sandbox::FreePort();
  auto head = sandbox.Lumen({"start", "--head", "--port", std::to_string(port), "--num-cpus", "1"});
  INFO(head.Describe());
  REQUIRE(head.exit_code == 0);
  const std::string head_session = Sandbox::SessionDirFromOutput(head.out);
  // session_<YYYY-MM-DD>_<HH-MM-SS>_<ms, 3 digits>_<pid>: names sort by time.
  CHECK(std::regex_match(fs::path(head_session).filename().string(),
                         std::regex(R"(session_\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_\d{3}_\d+)")));
  // Without --object-store-memory one size is chosen, and both daemons get it.
  auto pids = sandbox.SessionPids(head_session);
  const std::string plasma_size = FlagOf(CommandLineOf(pids["plasma"]), "--object-store-memory");
  const std::string raylet_size = FlagOf(CommandLineOf(pids["raylet"]), "--object-store-memory");
  CHECK(!plasma_size.empty());
  CHECK(plasma_size == raylet_size);
  // A node joining from the same temp dir leaves session_latest at the head's.
  auto join = sandbox.Lumen({"start", "--address", "127.0.0.1:" + std::to_string(port),
                             "--num-cpus", "1", "--object-store-memory", "64000000"});
  INFO(join.Describe());
  REQUIRE(join.exit_code == 0);
  CHECK(fs::read_symlink(sandbox.temp_dir() + "/session_latest") == fs::path(head_session));
  // One log file per worker: worker-<id>-<pid>.out.
  auto run = sandbox.Run({Driver(), "run"}, {{"RAY_ADDRESS", "127.0.0.1:" + std::to_string(port)}},
                         120000);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  std::set<std::string> ids;
  int files = 0;
  for (const std::string& session : {head_session, Sandbox::SessionDirFromOutput(join.out)}) {
    for (const auto& entry : fs::directory_iterator(session + "/logs")) {
      const std::string name = entry.path().filename().string();
      if (name.rfind("worker-", 0) != 0) continue;
      INFO(name);
      std::smatch m;
      CHECK(std::regex_match(name, m, std::regex(R"(worker-([0-9a-f]+)-(\d+)\.out)")));
      ids.insert(m[1]);
      ++files;
    }
  }
  CHECK(files > 0);
  CHECK(static_cast<size_t>(files) == ids.size());
}

TEST_CASE("lumen: usage errors exit 2; --version; every command has --help (finding 3)") {
  Sandbox sandbox;
  CHECK(sandbox.Lumen({}).exit_code == 2);
  CHECK(sandbox.Lumen({"frobnicate"}).exit_code == 2);
  auto version = sandbox.Lumen({"--version"});
  CHECK(version.exit_code == 0);
  CHECK(std::regex_search(version.out, std::regex(R"(^lumen \d+\.\d+\.\d+)")));
  for (const std::string command : {"start", "stop", "status"}) {
    auto help = sandbox.Lumen({command, "--help"});
    INFO(command);
    CHECK(help.exit_code == 0);
    CHECK_THAT(help.out, Catch::StartsWith("usage: lumen " + command));
  }
  CHECK_THAT(sandbox.Lumen({"start", "--help"}).out, Catch::Contains("(default: detected"));
  CHECK(sandbox.Lumen({"--help"}).exit_code == 0);
}
