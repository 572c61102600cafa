// GCS fault tolerance with Redis: a real redis-server, a head whose GCS keeps
// its tables there, the GCS killed with SIGKILL and started again on the same
// port and Redis. The node table must survive (a dead node included) and the
// head's raylet, which was never restarted, must stay alive and report to
// the new GCS.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/rpc/client.h"
#include "proto/gcs.grpc.pb.h"
#include "tests/harness.h"

namespace lumen::testing {
namespace {

constexpr int kDeadlineMs = 60000;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The id prefix and state lines of `lumen status`, to compare node tables.
std::string NodeLines(const std::string& status) {
  std::string lines;
  size_t at = 0;
  while ((at = status.find("  node ", at)) != std::string::npos) {
    const size_t end = status.find('\n', at);
    lines += status.substr(at, end - at) + "\n";
    at = end;
  }
  return lines;
}

TEST_CASE("a GCS restarted on Redis keeps the node table", "[integration]") {
  if (FindRedisServer().empty()) {
    WARN("redis-server is not installed (scripts/install_deps.sh installs it); skipping");
    return;
  }
  Sandbox sandbox;
  const int redis_port = Sandbox::FreePort();
  pid_t redis_pid = sandbox.SpawnRedis(redis_port);
  REQUIRE(redis_pid > 0);

  const std::string port = std::to_string(Sandbox::FreePort());
  CommandResult head = sandbox.Lumen({"start", "--head", "--port", port, "--num-cpus", "4",
                                      "--object-store-memory", "33554432", "--redis-address",
                                      "127.0.0.1:" + std::to_string(redis_port)});
  INFO(head.Describe());
  REQUIRE(head.exit_code == 0);
  // A second node that dies: only a GCS that reloaded its tables from Redis
  // can still know about it after the restart.
  CommandResult worker = sandbox.Lumen({"start", "--address", "127.0.0.1:" + port, "--num-cpus",
                                        "2", "--object-store-memory", "33554432"});
  INFO(worker.Describe());
  REQUIRE(worker.exit_code == 0);
  const pid_t worker_raylet =
      sandbox.SessionPids(Sandbox::SessionDirFromOutput(worker.out))["raylet"];
  REQUIRE(::kill(worker_raylet, SIGKILL) == 0);
  CommandResult before;
  REQUIRE(WaitUntil(
      [&] {
        before = sandbox.Lumen({"status"});
        return Has(before.out, "Nodes: 1 alive, 1 dead");
      },
      kDeadlineMs, 250));

  const std::string session = Sandbox::SessionDirFromOutput(head.out);
  auto pids = sandbox.SessionPids(session);
  const pid_t old_gcs = pids["gcs"];
  const pid_t raylet = pids["raylet"];
  const std::vector<std::string> gcs_argv = CommandLineOf(old_gcs);
  REQUIRE(gcs_argv.size() > 1);
  REQUIRE(::kill(old_gcs, SIGKILL) == 0);
  REQUIRE(WaitUntil([&] { return !IsRunning(old_gcs); }, 10000));
  CHECK(sandbox.Lumen({"status"}, {}, 30000).exit_code != 0);  // Nobody answers now.

  const std::string token = ReadFile(sandbox.home() + "/.lumen/token");
  pid_t new_gcs = sandbox.Spawn("gcs-restarted", gcs_argv,
                                {{"LUMEN_TOKEN", token.substr(0, token.find('\n'))}});
  REQUIRE(new_gcs > 0);
  std::string after;
  const bool recovered = WaitUntil(
      [&] {
        CommandResult r = sandbox.Lumen({"status"}, {}, 20000);
        after = r.out + r.err;
        return r.exit_code == 0 && Has(after, "Nodes: 1 alive, 1 dead");
      },
      kDeadlineMs, 250);
  INFO("before:\n" << before.out << "after:\n" << after << "gcs log:\n"
                   << ReadFile(sandbox.root() + "/gcs-restarted.out"));
  REQUIRE(recovered);
  CHECK(NodeLines(after) == NodeLines(before.out));  // Same nodes, same states.
  CHECK(Has(after, "/4.0 CPU"));
  CHECK(IsRunning(raylet));
  CHECK(IsRunning(new_gcs));

  // Resource views are not persisted: a view in the new GCS means the
  // surviving raylet reports to it.
  rpc::RpcClient<rpc::GcsService> gcs("127.0.0.1:" + port, token.substr(0, token.find('\n')));
  CHECK(WaitUntil(
      [&] {
        auto views = gcs.CallSync(&rpc::GcsService::Stub::GetClusterResources,
                                  rpc::GetClusterResourcesRequest(), 5000);
        return views.ok() && views->views_size() == 1 && views->views(0).total().count("CPU") &&
               views->views(0).total().at("CPU") == 4;
      },
      kDeadlineMs, 200));
}

}  // namespace
}  // namespace lumen::testing
