// Lineage reconstruction (docs/objects.md, "Lineage reconstruction"), on a
// head (A, no resource "r") and nodes B (127.0.0.2) and C (127.0.0.3), each
// with resource "r": a task on B or C returns a 20 MiB value to the driver
// on A, which waits for it without reading it; the test then SIGKILLs the
// raylet and plasma store of the node that ran it, and the driver reads it:
//   - max_retries 1: the task runs again on the other node, the bytes are
//     identical, and it ran twice;
//   - the same, but the second run comes before the driver reads: the
//     owner hears of the node's death from the GCS;
//   - a task given it as an argument (a borrower) gets it rebuilt by the
//     owner, and the driver reads the same new copy (two runs in all);
//   - a Copy of the result made on that node too: both are rebuilt, the
//     Copy's worker having the owner rebuild its lost argument first;
//   - a task whose argument the driver put and then dropped: the re-run
//     reads it, since lineage pins the arguments of what it may re-run;
//   - max_retries 0: a clear object-lost error saying no retries are left;
//   - max_retries 1, but the owner's lineage budget (LUMEN_MAX_LINEAGE_BYTES)
//     too small to keep the task: the object-lost error says its lineage
//     was evicted, and nothing runs again;
//   - a ray::Put made on that node and returned nested: an error (the
//     put's only copy is gone; put objects are never rebuilt).
// Nothing hangs: every wait is bounded.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <functional>
#include <map>
#include <string>

#include "tests/cluster_harness.h"

namespace lumen::testing {
namespace {

constexpr int kDriverTimeoutMs = 90000;

void StartThreeNodes(LocalCluster& cluster) {
  auto with = [](std::vector<std::string> args) {
    args.insert(args.end(), {"--object-store-memory", "300000000"});
    return args;
  };
  const bool started =
      cluster.StartHead(with({"--num-cpus", "1"})) &&
      cluster.AddNode("127.0.0.2", with({"--num-cpus", "1", "--resources", R"({"r": 1})"})) &&
      cluster.AddNode("127.0.0.3", with({"--num-cpus", "1", "--resources", R"({"r": 1})"}));
  INFO(cluster.error());
  REQUIRE(started);
  REQUIRE(cluster.WaitForAlive(3));
}

// The session dirs of the runs the driver's tasks logged ("<dir> <node> <function>").
std::vector<std::string> Runs(const std::string& text, const std::string& function = "") {
  std::vector<std::string> out;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    const std::string line = text.substr(start, end - start);
    if (function.empty() || line.substr(line.rfind(' ') + 1) == function) {
      out.push_back(line.substr(0, line.find(' ')));
    }
  }
  return out;
}

struct Outcome {
  std::string out;                // The driver's stdout.
  std::vector<std::string> runs;  // Session dirs of the nodes that ran the tasks.
  std::string runs_log;           // The tasks' log, one line per run.
  int killed = -1;                // Index of the node killed.
};

// Runs the driver with `args` (RUNS appended), kills the node that ran its
// task once the driver says "ready", runs `after_kill` (given the runs
// file), lets it read, and waits for it.
Outcome RunAndKill(Sandbox& sandbox, LocalCluster& cluster, std::vector<std::string> args,
                   const std::function<void(const std::string&)>& after_kill = {},
                   const std::map<std::string, std::string>& extra_env = {}) {
  Outcome outcome;
  const std::string runs = sandbox.root() + "/runs";
  args.insert(args.begin(), Sandbox::BinDir() + "/lineage_driver");
  args.push_back(runs);
  std::map<std::string, std::string> env = cluster.DriverEnv();
  env.insert(extra_env.begin(), extra_env.end());
  const pid_t driver = sandbox.Spawn("lineage", args, env);
  REQUIRE(driver > 0);
  const std::string log = sandbox.root() + "/lineage.out";
  INFO(ReadFile(sandbox.root() + "/lineage.err"));
  REQUIRE(WaitUntil([&] { return !ValuesOf(ReadFile(log), "ready").empty(); }, kDriverTimeoutMs, 50));
  const auto first = Runs(ReadFile(runs));
  REQUIRE(!first.empty());
  for (size_t i = 1; i < cluster.nodes().size(); ++i) {
    if (cluster.nodes()[i].session_dir == first[0]) outcome.killed = static_cast<int>(i);
  }
  REQUIRE(outcome.killed > 0);  // B or C: only they have "r".
  for (const char* daemon : {"raylet", "plasma"}) {
    REQUIRE(::kill(cluster.nodes()[outcome.killed].pids.at(daemon), SIGKILL) == 0);
  }
  if (after_kill) after_kill(runs);
  std::ofstream(sandbox.root() + "/go") << "go\n";
  const std::optional<int> code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  outcome.out = ReadFile(log);
  outcome.runs_log = ReadFile(runs);
  outcome.runs = Runs(outcome.runs_log);
  INFO(outcome.out << ReadFile(sandbox.root() + "/lineage.err"));
  REQUIRE(code.has_value());  // No hang.
  CHECK(*code == 0);
  return outcome;
}

// The value read as `key` has the expected bytes and no error was printed.
void CheckRebuiltOnce(const Outcome& outcome, const std::string& key) {
  INFO(outcome.out);
  const auto expect = ValuesOf(outcome.out, "expect");
  REQUIRE(expect.size() == 1);
  CHECK(ValuesOf(outcome.out, "error").empty());
  CHECK(ValuesOf(outcome.out, key) == expect);  // Identical bytes.
}

TEST_CASE("a lost task output is rebuilt by running its task again on another node",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const Outcome outcome = RunAndKill(sandbox, cluster, {"task", "1", "20"});
  CheckRebuiltOnce(outcome, "sum");
  REQUIRE(outcome.runs.size() == 2);              // It ran twice,
  CHECK(outcome.runs[1] != outcome.runs[0]);      // the second time elsewhere.
  const int other = outcome.killed == 1 ? 2 : 1;
  CHECK(outcome.runs[1] == cluster.nodes()[other].session_dir);
}

TEST_CASE("the owner rebuilds a lost task output when the GCS reports its node dead, before any Get",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  // The driver holds the ref and reads nothing until "go": only the node's
  // death, as the GCS publishes it, can start the second run.
  const Outcome outcome = RunAndKill(sandbox, cluster, {"task", "1", "20"}, [](const std::string& runs) {
    const bool rerun = WaitUntil([&] { return Runs(ReadFile(runs)).size() >= 2; }, 30000, 50);
    INFO(ReadFile(runs));
    CHECK(rerun);
  });
  CheckRebuiltOnce(outcome, "sum");
  REQUIRE(outcome.runs.size() == 2);  // Once more, not once per notice or read.
  const int other = outcome.killed == 1 ? 2 : 1;
  CHECK(outcome.runs[1] == cluster.nodes()[other].session_dir);
}

TEST_CASE("a borrower that cannot pull a lost task output has its owner rebuild it",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const Outcome outcome = RunAndKill(sandbox, cluster, {"arg", "2", "20"});
  CheckRebuiltOnce(outcome, "arg_sum");
  CHECK(ValuesOf(outcome.out, "sum") == ValuesOf(outcome.out, "expect"));  // The driver too,
  CHECK(outcome.runs.size() == 2);  // from the same single re-run.
}

TEST_CASE("a chain of lost results is rebuilt one link at a time", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const Outcome outcome = RunAndKill(sandbox, cluster, {"chain", "20"});
  CheckRebuiltOnce(outcome, "sum");
  INFO(outcome.runs_log);
  const auto makes = Runs(outcome.runs_log, "Make");
  const auto copies = Runs(outcome.runs_log, "Copy");
  // Copy ran where Make did, both died there, and each ran once more elsewhere.
  REQUIRE(makes.size() == 2);
  REQUIRE(copies.size() == 2);
  CHECK(copies[0] == makes[0]);
  CHECK(makes[1] != makes[0]);
  CHECK(copies[1] != copies[0]);
}

TEST_CASE("a rebuild reads an argument whose only reference left is the lineage", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  // The driver's put (on the head, which survives) is read by a Copy on B
  // or C; the driver drops its ref; the Copy's node dies; the re-run on the
  // other node needs the put, which lineage kept.
  const Outcome outcome = RunAndKill(sandbox, cluster, {"putarg", "20"});
  CheckRebuiltOnce(outcome, "sum");
  REQUIRE(outcome.runs.size() == 2);
  CHECK(outcome.runs[1] != outcome.runs[0]);
}

// The driver got the object-lost error, saying `why`, and the task ran
// once: no rebuild.
void CheckLostNotRebuilt(const Outcome& outcome, const std::string& why) {
  INFO(outcome.out);
  CHECK(ValuesOf(outcome.out, "sum").empty());
  const auto error = ValuesOf(outcome.out, "error");
  REQUIRE(error.size() == 1);
  CHECK(error[0].find(" is lost: ") != std::string::npos);
  CHECK(error[0].find(why) != std::string::npos);
  CHECK(outcome.runs.size() == 1);  // Not run again.
  WARN("the error: " << error[0]);
}

TEST_CASE("a lost task output with no retries left gives the object-lost error", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  CheckLostNotRebuilt(RunAndKill(sandbox, cluster, {"task", "0", "20"}), "cannot be rebuilt: no retries left");
}

TEST_CASE("a lost task output whose lineage was evicted gives the object-lost error saying so",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  // A budget no task spec fits in: the driver keeps no lineage at all.
  // Not run again, though it had a retry left.
  CheckLostNotRebuilt(
      RunAndKill(sandbox, cluster, {"task", "1", "20"}, {}, {{"LUMEN_MAX_LINEAGE_BYTES", "100"}}),
      "cannot be rebuilt: its lineage was evicted");
}

TEST_CASE("a lost put object gives an error, never a rebuild", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const Outcome outcome = RunAndKill(sandbox, cluster, {"put", "20"});
  INFO(outcome.out);
  CHECK(ValuesOf(outcome.out, "sum").empty());
  const auto error = ValuesOf(outcome.out, "error");
  REQUIRE(error.size() == 1);
  // The put's owner is the worker that made it, on the node that died:
  // either it went with its node (owner died) or, still alive, it cannot
  // serve a copy (lost, and puts are never rebuilt).
  const bool owner_died = error[0].rfind("owner died", 0) == 0;
  const bool lost = error[0].find("put objects cannot be reconstructed") != std::string::npos;
  CHECK((owner_died || lost));
  CHECK(outcome.runs.size() == 1);
  WARN("the error: " << error[0]);
}

}  // namespace
}  // namespace lumen::testing
