// The Jobs REST API and `lumen job` against a real head started by `lumen
// start --head` (lumen-dashboard, docs/dashboard.md): jobs submitted through
// the CLI and over HTTP run a real driver, stream their logs and end
// SUCCEEDED / FAILED (exit code) / STOPPED (driver and its workers gone);
// a taken submission id, a missing or wrong token and malformed JSON are
// refused with clear answers while the dashboard keeps serving; jobs are
// kept in the GCS and survive a GCS restart on Redis.
#include <signal.h>
#include <unistd.h>

#include <fstream>
#include <set>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "common/http_client.h"
#include "common/rpc/client.h"
#include "proto/gcs.grpc.pb.h"
#include "tests/harness.h"

namespace lumen::testing {
namespace {

using nlohmann::json;

constexpr int kDeadlineMs = 60000;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string FirstLine(const std::string& text) { return text.substr(0, text.find('\n')); }

// A head with a dashboard on a free port, and an HTTP client for it.
class JobsCluster {
 public:
  explicit JobsCluster(Sandbox& sandbox, std::vector<std::string> extra = {})
      : sandbox_(sandbox), port_(std::to_string(Sandbox::FreePort())) {
    std::vector<std::string> args = {"start", "--head", "--port", port_, "--num-cpus", "2",
                                     "--object-store-memory", "33554432", "--dashboard-port", "0"};
    args.insert(args.end(), extra.begin(), extra.end());
    head_ = sandbox.Lumen(args);
    session_ = Sandbox::SessionDirFromOutput(head_.out);
    address_ = FirstLine(ReadFile(session_ + "/dashboard_address"));
    token_ = FirstLine(ReadFile(sandbox.home() + "/.lumen/token"));
  }

  const CommandResult& head() const { return head_; }
  const std::string& session() const { return session_; }
  const std::string& address() const { return address_; }
  const std::string& token() const { return token_; }
  // The address the head advertises (its "GCS address:" line; the machine's
  // detected address, docs/operations.md), which jobs get as RAY_ADDRESS.
  std::string gcs_address() const {
    const std::string advertised = Sandbox::GcsAddressFromOutput(head_.out);
    return advertised.empty() ? "127.0.0.1:" + port_ : advertised;
  }

  // One request; `token` empty: none sent.
  http::ClientResult Call(const std::string& method, const std::string& target,
                          const std::string& body = "", const std::string* token = nullptr) {
    http::ClientRequest request;
    request.method = method;
    request.target = target;
    request.body = body;
    const std::string& bearer = token ? *token : token_;
    if (!bearer.empty()) request.headers["Authorization"] = "Bearer " + bearer;
    auto result = http::Fetch(address_, request);
    INFO(result.status().ToString());
    REQUIRE(result.ok());
    return *result;
  }

  json Job(const std::string& id) {
    http::ClientResult r = Call("GET", "/api/jobs/" + id);
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body);
  }

  // Waits until the job is no longer PENDING or RUNNING; its last details.
  json WaitForEnd(const std::string& id) {
    json job;
    WaitUntil(
        [&] {
          job = Job(id);
          const std::string status = job["status"];
          return status != "PENDING" && status != "RUNNING";
        },
        kDeadlineMs, 100);
    return job;
  }

  std::string Submit(const json& body) {
    http::ClientResult r = Call("POST", "/api/jobs/", body.dump());
    INFO(r.body);
    REQUIRE(r.status == 200);
    return json::parse(r.body)["submission_id"];
  }

 private:
  Sandbox& sandbox_;
  std::string port_;
  CommandResult head_;
  std::string session_;
  std::string address_;
  std::string token_;
};

TEST_CASE("jobs through the CLI and the REST API", "[integration]") {
  Sandbox sandbox;
  JobsCluster cluster(sandbox);
  INFO(cluster.head().Describe());
  REQUIRE(cluster.head().exit_code == 0);
  REQUIRE(!cluster.address().empty());

  SECTION("the CLI runs a real driver, streams its log and exits 0 on SUCCEEDED") {
    CommandResult submit = sandbox.Lumen(
        {"job", "submit", "--submission-id", "cli-tasks", "--", LUMEN_JOBS_DRIVER, "tasks", "20"});
    INFO(submit.Describe());
    CHECK(submit.exit_code == 0);
    CHECK(Has(submit.out, "sum=2470"));  // 0² + ... + 19²
    CHECK(Has(submit.err, "SUCCEEDED"));
    CHECK(cluster.Job("cli-tasks")["status"] == "SUCCEEDED");
    CHECK(Has(ReadFile(cluster.session() + "/logs/job-driver-cli-tasks.log"), "sum=2470"));
    CommandResult list = sandbox.Lumen({"job", "list"});
    CHECK(Has(list.out, "cli-tasks"));
    CommandResult logs = sandbox.Lumen({"job", "logs", "cli-tasks"});
    CHECK(Has(logs.out, "sum=2470"));

    CommandResult failing = sandbox.Lumen({"job", "submit", "--", "sh", "-c", "echo bye; exit 7"});
    INFO(failing.Describe());
    CHECK(failing.exit_code == 1);
    CHECK(Has(failing.out, "bye"));
    CHECK(Has(failing.err, "FAILED"));
    CHECK(Has(failing.err, "exit code 7"));
  }

  SECTION("REST: env_vars, working_dir and RAY_ADDRESS; the log streamed; SUCCEEDED") {
    // The second line only comes once the test has seen the first one
    // streamed: the tail sends output while the job runs.
    const std::string gate = sandbox.root() + "/seen-first";
    const std::string id = cluster.Submit(
        {{"entrypoint", "echo \"$GREETING from $RAY_ADDRESS in $(pwd)\"; while [ ! -e " + gate +
                            " ]; do sleep 0.05; done; echo second"},
         {"runtime_env", {{"env_vars", {{"GREETING", "hello"}}}, {"working_dir", sandbox.root()}}},
         {"metadata", {{"owner", "test"}}},
         {"entrypoint_num_cpus", 1}});
    CHECK(id.rfind("raysubmit_", 0) == 0);
    http::ClientRequest tail;
    tail.target = "/api/jobs/" + id + "/logs/tail";
    tail.headers["Authorization"] = "Bearer " + cluster.token();
    tail.timeout_ms = kDeadlineMs;
    std::string streamed;
    int pieces = 0;
    tail.on_chunk = [&](std::string_view piece) {
      streamed += piece;
      ++pieces;
      if (Has(streamed, "hello from")) std::ofstream(gate).put('\n');
    };
    auto result = http::Fetch(cluster.address(), tail);
    REQUIRE(result.ok());
    CHECK(result->status == 200);
    CHECK(Has(streamed, "hello from " + cluster.gcs_address() + " in " + sandbox.root()));
    CHECK(Has(streamed, "second"));
    CHECK(pieces >= 2);
    json job = cluster.WaitForEnd(id);
    CHECK(job["status"] == "SUCCEEDED");
    CHECK(job["driver_exit_code"] == 0);
    CHECK(job["metadata"]["owner"] == "test");
    CHECK(job["entrypoint_num_cpus"] == 1);
    CHECK(job["start_time"].is_number());
    CHECK(job["end_time"].is_number());
    http::ClientResult logs = cluster.Call("GET", "/api/jobs/" + id + "/logs");
    CHECK(Has(json::parse(logs.body)["logs"].get<std::string>(), "second"));

    SECTION("a failing entrypoint is FAILED with its exit code") {
      const std::string failed = cluster.Submit({{"entrypoint", "exit 3"}});
      json end = cluster.WaitForEnd(failed);
      CHECK(end["status"] == "FAILED");
      CHECK(end["driver_exit_code"] == 3);
      CHECK(Has(end["message"], "exit code 3"));
    }
    SECTION("a taken submission id is refused") {
      cluster.Submit({{"entrypoint", "true"}, {"submission_id", "mine"}});
      http::ClientResult again =
          cluster.Call("POST", "/api/jobs/", json{{"entrypoint", "true"}, {"submission_id", "mine"}}.dump());
      CHECK(again.status == 400);
      CHECK(Has(again.body, "mine already exists"));
    }
  }

  SECTION("no token, a wrong token: 401; malformed JSON: 400; the dashboard keeps serving") {
    const std::string none;
    const std::string wrong = "not-the-token";
    http::ClientResult health = cluster.Call("GET", "/api/health", "", &none);
    CHECK(health.status == 200);
    http::ClientResult anonymous = cluster.Call("GET", "/api/jobs/", "", &none);
    CHECK(anonymous.status == 401);
    CHECK(Has(anonymous.body, "missing cluster token"));
    http::ClientResult bad = cluster.Call("POST", "/api/jobs/", R"({"entrypoint": "true"})", &wrong);
    CHECK(bad.status == 401);
    CHECK(Has(bad.body, "wrong cluster token"));
    http::ClientResult malformed = cluster.Call("POST", "/api/jobs/", R"({"entrypoint": )");
    CHECK(malformed.status == 400);
    CHECK(Has(malformed.body, "malformed JSON body"));
    CHECK(Has(malformed.body, "parse error"));
    http::ClientResult unsupported = cluster.Call(
        "POST", "/api/jobs/", R"({"entrypoint": "true", "runtime_env": {"pip": ["x"]}})");
    CHECK(unsupported.status == 400);
    CHECK(Has(unsupported.body, "\\\"pip\\\" is not supported"));
    http::ClientResult missing = cluster.Call("GET", "/api/jobs/nope");
    CHECK(missing.status == 404);
    http::ClientResult list = cluster.Call("GET", "/api/jobs/");
    CHECK(list.status == 200);
    CHECK(json::parse(list.body).is_array());
  }

  SECTION("stop a long job: STOPPED, its driver and its worker gone; delete only when ended") {
    const std::string pid_file = sandbox.root() + "/worker.pid";
    CommandResult submit = sandbox.Lumen({"job", "submit", "--no-wait", "--submission-id", "long",
                                          "--", LUMEN_JOBS_DRIVER, "hang", pid_file});
    INFO(submit.Describe());
    REQUIRE(submit.exit_code == 0);
    REQUIRE(WaitUntil([&] { return !ReadFile(pid_file).empty(); }, kDeadlineMs));
    const pid_t worker = std::stoi(ReadFile(pid_file));
    json running = cluster.Job("long");
    CHECK(running["status"] == "RUNNING");
    const pid_t group = running["supervisor_pid"].get<int>();
    REQUIRE(group > 0);
    CHECK(IsRunning(worker));

    http::ClientResult refused = cluster.Call("DELETE", "/api/jobs/long");
    CHECK(refused.status == 400);
    CHECK(Has(refused.body, "RUNNING"));

    http::ClientResult stop = cluster.Call("POST", "/api/jobs/long/stop");
    CHECK(json::parse(stop.body)["stopped"] == true);
    json end = cluster.WaitForEnd("long");
    CHECK(end["status"] == "STOPPED");
    CHECK(WaitUntil([&] { return ::kill(-group, 0) != 0; }, kDeadlineMs));  // The driver's group.
    CHECK(WaitUntil([&] { return !IsRunning(worker); }, kDeadlineMs));   // Its worker.

    http::ClientResult deleted = cluster.Call("DELETE", "/api/jobs/long");
    CHECK(deleted.status == 200);
    CHECK(cluster.Call("GET", "/api/jobs/long").status == 404);
    CHECK(ReadFile(cluster.session() + "/logs/job-driver-long.log").empty());
  }

  SECTION("a job that ignores SIGTERM is killed after the grace period; STOPPED") {
    const std::string id = cluster.Submit({{"entrypoint", "trap '' TERM; echo armed; sleep 1000"}});
    REQUIRE(WaitUntil([&] { return Has(ReadFile(cluster.session() + "/logs/job-driver-" + id + ".log"),
                                       "armed"); }, kDeadlineMs));
    const pid_t group = cluster.Job(id)["supervisor_pid"].get<int>();
    CHECK(json::parse(cluster.Call("POST", "/api/jobs/" + id + "/stop").body)["stopped"] == true);
    CHECK(cluster.WaitForEnd(id)["status"] == "STOPPED");
    CHECK(WaitUntil([&] { return ::kill(-group, 0) != 0; }, kDeadlineMs));
  }

  SECTION("a job's processes die with a killed dashboard") {
    const std::string id = cluster.Submit({{"entrypoint", "sleep 1000 & sleep 1000"}});
    const pid_t group = cluster.Job(id)["supervisor_pid"].get<int>();
    REQUIRE(group > 0);
    const pid_t dashboard = sandbox.SessionPids(cluster.session())["dashboard"];
    REQUIRE(dashboard > 0);
    REQUIRE(::kill(dashboard, SIGKILL) == 0);
    CHECK(WaitUntil([&] { return ::kill(-group, 0) != 0; }, kDeadlineMs));
  }

  SECTION("lumen stop stops the dashboard too") {
    CHECK(sandbox.Lumen({"stop"}).exit_code == 0);
    CHECK(WaitUntil([&] { return sandbox.LumenDaemons().empty(); }, kDeadlineMs));
  }
}

TEST_CASE("jobs survive a GCS restart on Redis", "[integration]") {
  if (FindRedisServer().empty()) {
    WARN("redis-server is not installed (scripts/install_deps.sh installs it); skipping");
    return;
  }
  Sandbox sandbox;
  const int redis_port = Sandbox::FreePort();
  REQUIRE(sandbox.SpawnRedis(redis_port) > 0);
  JobsCluster cluster(sandbox, {"--redis-address", "127.0.0.1:" + std::to_string(redis_port)});
  INFO(cluster.head().Describe());
  REQUIRE(cluster.head().exit_code == 0);

  const std::string done = cluster.Submit({{"entrypoint", "echo done"}, {"submission_id", "before"}});
  CHECK(cluster.WaitForEnd(done)["status"] == "SUCCEEDED");
  // A job that ends while the GCS is down: its end is written when it is back.
  const std::string gate = sandbox.root() + "/gate";
  cluster.Submit({{"entrypoint", "while [ ! -e " + gate + " ]; do sleep 0.1; done"},
                  {"submission_id", "during"}});

  auto pids = sandbox.SessionPids(cluster.session());
  const pid_t old_gcs = pids["gcs"];
  const std::vector<std::string> gcs_argv = CommandLineOf(old_gcs);
  REQUIRE(gcs_argv.size() > 1);
  REQUIRE(::kill(old_gcs, SIGKILL) == 0);
  REQUIRE(WaitUntil([&] { return !IsRunning(old_gcs); }, 10000));
  std::ofstream(gate).put('\n');
  REQUIRE(WaitUntil([&] { return cluster.Job("during")["status"] == "SUCCEEDED"; }, kDeadlineMs));

  REQUIRE(sandbox.Spawn("gcs-restarted", gcs_argv, {{"LUMEN_TOKEN", cluster.token()}}) > 0);
  rpc::RpcClient<rpc::GcsService> gcs(cluster.gcs_address(), cluster.token());
  auto stored_status = [&](const std::string& id) -> std::string {
    rpc::KvGetRequest request;
    request.set_ns("job_submission");
    request.set_key(id);
    auto reply = gcs.CallSync(&rpc::GcsService::Stub::KvGet, request, 5000);
    if (!reply.ok() || !reply->found()) return "";
    return json::parse(reply->value())["status"];
  };
  CHECK(WaitUntil([&] { return stored_status("before") == "SUCCEEDED"; }, kDeadlineMs, 200));
  CHECK(WaitUntil([&] { return stored_status("during") == "SUCCEEDED"; }, kDeadlineMs, 200));
  http::ClientResult list = cluster.Call("GET", "/api/jobs/");
  REQUIRE(list.status == 200);
  std::set<std::string> listed;
  for (const json& job : json::parse(list.body)) listed.insert(job["submission_id"]);
  CHECK(listed.count("before") == 1);
  CHECK(listed.count("during") == 1);
}

}  // namespace
}  // namespace lumen::testing
