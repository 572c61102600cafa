// Object transfer between nodes (docs/objects.md, "Between nodes"), on a
// head (A) and nodes B (127.0.0.2, resource "b") and C (127.0.0.3, "c")
// started on this machine by LocalCluster: a 200 MiB object made on B is
// read by a task on C and by the driver on A with identical bytes; one
// object needed by 5 tasks on C is transferred to C once (counted from C's
// raylet log); objects spilled on their node are restored there and sent;
// a pull from a node that died fails with a clear error. The bytes go over
// the raylets' plain TCP data ports (raylet/object_data.h): a connection
// with a wrong token or a malformed header is closed with one log line and
// the port keeps serving; a source killed mid-pull is followed by another
// copy; without data ports (as under TLS) the gRPC chunks carry the bytes.
// Each raylet's transfer metrics (docs/metrics.md) count the bytes it sent
// and received, the objects it pulled, and failed sources and pulls.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <string>

#include "tests/cluster_harness.h"
#include "tests/metrics_scrape.h"

namespace lumen::testing {
namespace {

constexpr int kDriverTimeoutMs = 120000;

std::string Driver() { return Sandbox::BinDir() + "/transfer_driver"; }

void StartThreeNodes(LocalCluster& cluster, const std::string& b_store = "1000000000") {
  auto with = [](std::vector<std::string> args, const std::string& store = "1000000000") {
    args.insert(args.end(), {"--object-store-memory", store});
    return args;
  };
  const bool started = cluster.StartHead(with({"--num-cpus", "1"})) &&
                       cluster.AddNode("127.0.0.2", with({"--num-cpus", "1", "--resources", R"({"b": 1})"}, b_store)) &&
                       cluster.AddNode("127.0.0.3", with({"--num-cpus", "5", "--resources", R"({"c": 1})"}));
  INFO(cluster.error());
  REQUIRE(started);
  REQUIRE(cluster.WaitForAlive(3));
}

// The driver's "cross" mode: an object of `mib` made on B, read by a task
// on C and by the driver on A, both with B's bytes.
CommandResult RunCross(Sandbox& sandbox, LocalCluster& cluster, int mib) {
  CommandResult run = sandbox.Run({Driver(), "cross", std::to_string(mib)}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  const auto expect = ValuesOf(run.out, "expect");
  REQUIRE(expect.size() == 1);
  CHECK(ValuesOf(run.out, "c_sum") == expect);
  CHECK(ValuesOf(run.out, "driver_sum") == expect);
  return run;
}

// Lines of node `index`'s raylet log that hold `needle`.
int LogLines(const LocalCluster& cluster, int index, const std::string& needle) {
  std::ifstream log(cluster.nodes()[index].session_dir + "/logs/raylet.out");
  int count = 0;
  for (std::string line; std::getline(log, line);) count += line.find(needle) != std::string::npos;
  return count;
}

// Lines of node `index`'s raylet log that record a finished pull.
int PullsLogged(const LocalCluster& cluster, int index) { return LogLines(cluster, index, "pulled object "); }

// LogLines once at least `at_least` lines are there, or after 10 s. A daemon's
// output reaches raylet.out through its log writer process (a pipe:
// common/log_rotation.h), so a line logged just before the connection it is
// about was closed may not be in the file yet when the client sees the close.
int AwaitLogLines(const LocalCluster& cluster, int index, const std::string& needle, int at_least = 1) {
  int count = 0;
  lumen::testing::WaitUntil([&] { return (count = LogLines(cluster, index, needle)) >= at_least; }, 10000, 20);
  return count;
}

// The data port node `index`'s raylet logged ("object data port: ip:port"), or 0.
int DataPort(const LocalCluster& cluster, int index) {
  const std::string log = ReadFile(cluster.nodes()[index].session_dir + "/logs/raylet.out");
  const std::string key = "object data port: " + cluster.nodes()[index].ip + ":";
  const size_t at = log.find(key);
  return at == std::string::npos ? 0 : std::atoi(log.c_str() + at + key.size());
}

// The samples of raylet metric `name` with `label` of node `index` (summed;
// -1: none, or the endpoint did not answer).
double RayletMetric(const LocalCluster& cluster, int index, const std::string& name,
                    const std::string& label = "") {
  return SampleSum(Scrape(cluster.nodes()[index].session_dir, "raylet"), name, label);
}
constexpr char kBytes[] = "ray_object_manager_bytes";
constexpr char kSent[] = "Type=\"PushedFromLocalPlasma\"";
constexpr char kReceived[] = "Type=\"Received\"";
constexpr char kPulled[] = "ray_object_manager_pulled_objects_total";
constexpr char kFailures[] = "ray_pull_manager_failures_total";

// Sends `bytes` to ip:port and reads until the peer closes: what it answered
// (empty: closed without a word), or "<connect failed>".
std::string Exchange(const std::string& ip, int port, const std::string& bytes) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &addr.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  timeval tv{30, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return "<connect failed>";
  }
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  std::string answer;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) answer.append(buf, n);
  ::close(fd);
  return answer;
}

// A data request header as raylet/object_data.h lays it out (80 bytes,
// little-endian): "LMD1", token size, offset, length, object id, node id.
std::string DataRequest(const std::string& token, uint64_t length) {
  std::string header = "LMD1";
  auto put = [&](uint64_t value, int bytes) {
    for (int i = 0; i < bytes; ++i) header.push_back(static_cast<char>(value >> (8 * i)));
  };
  put(token.size(), 4);
  put(0, 8);
  put(length, 8);
  header.append(28, 'o');
  header.append(28, '\0');
  return header + token;
}

TEST_CASE("a 200 MiB object made on node B is read on node C and by the driver on A, intact",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  CommandResult run = RunCross(sandbox, cluster, 200);
  CHECK(ValuesOf(run.out, "c_node") == std::vector<std::string>{cluster.nodes()[2].session_dir});
  CHECK(PullsLogged(cluster, 2) == 1);  // C pulled it, from B.
  CHECK(PullsLogged(cluster, 0) == 1);  // The head too, for the driver.
  CHECK(PullsLogged(cluster, 1) == 0);  // B made it.
  CHECK(AwaitLogLines(cluster, 2, "over its data port") == 1);  // Plain TCP, not gRPC chunks.
  CHECK(AwaitLogLines(cluster, 0, "over its data port") == 1);
  // The metrics say the same: A and C each received the object once; B
  // sent it (C may have served A a copy: the sends add up to both).
  const double size = 200.0 * (1 << 20);
  CHECK(RayletMetric(cluster, 2, kBytes, kReceived) >= size);
  CHECK(RayletMetric(cluster, 0, kBytes, kReceived) >= size);
  CHECK(RayletMetric(cluster, 1, kBytes, kReceived) == 0);
  CHECK(RayletMetric(cluster, 1, kBytes, kSent) >= size);
  double sent = 0;
  for (int i = 0; i < 3; ++i) sent += RayletMetric(cluster, i, kBytes, kSent);
  CHECK(sent >= 2 * size);
  CHECK(RayletMetric(cluster, 2, kPulled) == 1);
  CHECK(RayletMetric(cluster, 0, kPulled) == 1);
  CHECK(RayletMetric(cluster, 1, kPulled) == 0);
  for (int i = 0; i < 3; ++i) {
    CHECK(RayletMetric(cluster, i, kFailures) == 0);
    CHECK(RayletMetric(cluster, i, "ray_object_manager_num_pull_requests") == 0);
  }
}

// The path of a cluster under TLS, where raylets open no data port.
TEST_CASE("without data ports the bytes go in gRPC chunks, intact", "[integration]") {
  ::setenv("LUMEN_TESTING_NO_DATA_PORT", "1", 1);
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  ::unsetenv("LUMEN_TESTING_NO_DATA_PORT");
  RunCross(sandbox, cluster, 20);
  CHECK(DataPort(cluster, 1) == 0);
  CHECK(AwaitLogLines(cluster, 2, " in chunks") == 1);
  CHECK(AwaitLogLines(cluster, 0, " in chunks") == 1);
  // Chunks count as sent bytes too.
  double sent = 0;
  for (int i = 0; i < 3; ++i) sent += RayletMetric(cluster, i, kBytes, kSent);
  CHECK(sent >= 2 * 20.0 * (1 << 20));
  CHECK(RayletMetric(cluster, 2, kBytes, kReceived) >= 20.0 * (1 << 20));
}

TEST_CASE("the data port closes connections with a wrong token or a malformed header and keeps serving",
          "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const int port = DataPort(cluster, 1);
  REQUIRE(port > 0);
  const std::string b_ip = cluster.nodes()[1].ip;
  CHECK(Exchange(b_ip, port, DataRequest("not-the-cluster-token", 1 << 20)).empty());
  CHECK(Exchange(b_ip, port, std::string(200, 'x')).empty());
  std::string oversized = DataRequest("", 16);
  oversized[4] = oversized[5] = oversized[6] = '\x7f';  // A token of 2 GiB.
  CHECK(Exchange(b_ip, port, oversized).empty());
  CHECK(AwaitLogLines(cluster, 1, "wrong cluster token") == 1);
  CHECK(AwaitLogLines(cluster, 1, "not a data request") == 1);
  CHECK(AwaitLogLines(cluster, 1, "malformed header") == 1);
  // A flood of them costs one line per reason every 10 s, not one each.
  for (int i = 0; i < 50; ++i) CHECK(Exchange(b_ip, port, DataRequest("flood", 1 << 20)).empty());
  CHECK(LogLines(cluster, 1, "wrong cluster token") == 1);
  // Still serving: C reads an object made on B over the port.
  RunCross(sandbox, cluster, 8);
  CHECK(AwaitLogLines(cluster, 2, "over its data port") == 1);
}

TEST_CASE("one object needed by 5 tasks on the same node is transferred to it once", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  CommandResult run = sandbox.Run({Driver(), "five", "64"}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  const auto sums = ValuesOf(run.out, "five_sum");
  REQUIRE(sums.size() == 5);
  for (const auto& s : sums) CHECK(s == sums[0]);
  CHECK(PullsLogged(cluster, 2) == 1);
}

TEST_CASE("objects spilled on the node that holds them are restored there and sent", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster, /*b_store=*/std::to_string(100 << 20));  // Two 40 MiB objects fit, not three.
  CommandResult run = sandbox.Run({Driver(), "spilled", "40"}, cluster.DriverEnv(), kDriverTimeoutMs);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  const auto expect = ValuesOf(run.out, "spilled_expect");
  REQUIRE(expect.size() == 3);
  CHECK(expect[0] != expect[1]);
  CHECK(ValuesOf(run.out, "spilled_c_sum") == expect);
  CHECK(PullsLogged(cluster, 2) == 3);
}

// C pulls the object from B, so B knows of C's copy; the driver on A then
// pulls it, from C or B (probing B names C). Every data port pauses a send
// after its first 8 MiB (LUMEN_TESTING_DATA_PAUSE_MS), and meanwhile the
// test kills the raylet A is pulling from: A goes on with the other copy.
TEST_CASE("a source killed mid-pull is followed by another copy", "[integration]") {
  ::setenv("LUMEN_TESTING_DATA_PAUSE_MS", "2000", 1);
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  ::unsetenv("LUMEN_TESTING_DATA_PAUSE_MS");
  const pid_t driver = sandbox.Spawn("chain", {Driver(), "chain", "64"}, cluster.DriverEnv());
  REQUIRE(driver > 0);
  const std::string out_file = sandbox.root() + "/chain.out";
  REQUIRE(WaitUntil([&] { return !ValuesOf(ReadFile(out_file), "ready").empty(); }, kDriverTimeoutMs, 50));
  CHECK(LogLines(cluster, 1, "over its data port") == 0);
  std::ofstream(sandbox.root() + "/go") << "go\n";
  const std::string head_log = cluster.nodes()[0].session_dir + "/logs/raylet.out";
  REQUIRE(WaitUntil([&] { return ReadFile(head_log).find("pulling object ") != std::string::npos; },
                    kDriverTimeoutMs, 20));
  const std::string log = ReadFile(head_log);
  const size_t at = log.find(" at ", log.find("pulling object "));
  const std::string source_ip = log.substr(at + 4, log.find(':', at + 4) - at - 4);
  int victim = source_ip == cluster.nodes()[1].ip ? 1 : source_ip == cluster.nodes()[2].ip ? 2 : -1;
  INFO(log);
  REQUIRE(victim > 0);
  REQUIRE(::kill(cluster.nodes()[victim].pids.at("raylet"), SIGKILL) == 0);
  const std::optional<int> code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  const std::string out = ReadFile(out_file);
  INFO(out << ReadFile(sandbox.root() + "/chain.err") << ReadFile(head_log));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  const auto expect = ValuesOf(out, "expect");
  REQUIRE(expect.size() == 1);
  CHECK(ValuesOf(out, "c_sum") == expect);
  CHECK(ValuesOf(out, "driver_sum") == expect);
  CHECK(AwaitLogLines(cluster, 0, "pulling object ", 2) == 2);  // The killed source, then the other.
  CHECK(PullsLogged(cluster, 0) == 1);
  CHECK(RayletMetric(cluster, 0, kFailures, "Type=\"Source\"") >= 1);
  CHECK(RayletMetric(cluster, 0, kFailures, "Type=\"Pull\"") == 0);
  CHECK(RayletMetric(cluster, 0, kPulled) == 1);
}

TEST_CASE("a pull from a node that died fails with a clear error, not a hang", "[integration]") {
  Sandbox sandbox;
  LocalCluster cluster(sandbox);
  StartThreeNodes(cluster);
  const pid_t driver = sandbox.Spawn("dead", {Driver(), "dead", "16"}, cluster.DriverEnv());
  REQUIRE(driver > 0);
  const std::string log = sandbox.root() + "/dead.out";
  REQUIRE(WaitUntil([&] { return !ValuesOf(ReadFile(log), "ready").empty(); }, kDriverTimeoutMs, 50));
  for (const char* daemon : {"raylet", "plasma"}) {
    REQUIRE(::kill(cluster.nodes()[1].pids.at(daemon), SIGKILL) == 0);
  }
  std::ofstream(sandbox.root() + "/go") << "go\n";
  const std::optional<int> code = sandbox.WaitForChild(driver, kDriverTimeoutMs);
  const std::string out = ReadFile(log);
  INFO(out << ReadFile(sandbox.root() + "/dead.err"));
  REQUIRE(code.has_value());
  CHECK(*code == 0);
  CHECK(ValuesOf(out, "got").empty());
  const auto error = ValuesOf(out, "error");
  REQUIRE(error.size() == 1);
  CHECK(error[0].find("is lost: cannot pull object ") != std::string::npos);
  CHECK(error[0].find("node ") != std::string::npos);
  WARN("the error: " << error[0]);
  CHECK(RayletMetric(cluster, 0, kFailures, "Type=\"Pull\"") >= 1);
}

}  // namespace
}  // namespace lumen::testing
