// The state CLI over a real cluster (issue 13): task events from drivers
// and workers reach the GCS, `lumen list/get/summary/timeline` show them,
// bad input gives one-line errors, an actor is seen restarting then alive,
// and events lost to a full buffer are counted while every task still runs.
#include <signal.h>

#include <catch2/catch.hpp>
#include <fstream>

#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/harness.h"

using lumen::testing::CommandResult;
using lumen::testing::ReadFile;
using lumen::testing::Sandbox;
using lumen::testing::WaitUntil;
using nlohmann::json;

namespace {

std::string Driver() { return Sandbox::BinDir() + "/state_driver"; }

std::string StartHead(Sandbox& sandbox) {
  const int port = Sandbox::FreePort();
  CommandResult start = sandbox.Lumen({"start", "--head", "--port", std::to_string(port), "--num-cpus", "2",
                                       "--object-store-memory", "64000000"});
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  return "127.0.0.1:" + std::to_string(port);
}

// `lumen <args> --format json`, parsed; null when it failed.
json LumenJson(Sandbox& sandbox, std::vector<std::string> args) {
  args.push_back("--format");
  args.push_back("json");
  CommandResult result = sandbox.Lumen(args);
  if (result.exit_code != 0) return json();
  return json::parse(result.out, nullptr, /*allow_exceptions=*/false);
}

size_t CountWhere(const json& rows, const std::string& key, const std::string& value) {
  size_t n = 0;
  for (const auto& row : rows) n += row.value(key, "") == value;
  return n;
}

bool OneLineError(const CommandResult& result) {
  return result.exit_code != 0 && result.out.empty() && !result.err.empty() &&
         result.err.find('\n') == result.err.size() - 1;
}

}  // namespace

TEST_CASE("tasks are listed, summarized and drawn after 1,000 of them; a failure shows its error type") {
  Sandbox sandbox;
  const std::string address = StartHead(sandbox);
  CommandResult run = sandbox.Run({Driver(), "tasks", "1000"}, {{"RAY_ADDRESS", address}}, 120000);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("sum=500500"));
  CommandResult fail = sandbox.Run({Driver(), "fail"}, {{"RAY_ADDRESS", address}}, 60000);
  INFO(fail.Describe());
  REQUIRE(fail.exit_code == 0);
  CHECK_THAT(fail.out, Catch::Contains("caught"));

  // The drivers sent their events before exiting; a worker's may come later.
  json tasks;
  REQUIRE(WaitUntil(
      [&] {
        tasks = LumenJson(sandbox, {"list", "tasks", "--limit", "2000"});
        return tasks.is_array() && CountWhere(tasks, "state", "FINISHED") == 1000 &&
               CountWhere(tasks, "state", "FAILED") == 1;
      },
      30000, 200));
  CHECK(tasks.size() == 1001);
  CHECK(CountWhere(tasks, "name", "Plus") == 1000);
  for (const auto& task : tasks) {
    if (task["name"] != "Fails") continue;
    CHECK(task["state"] == "FAILED");
    CHECK(task["error_type"] == "TASK_EXCEPTION");
    CHECK_THAT(task["error_message"].get<std::string>(), Catch::Contains("failing on purpose"));
  }
  json failed = LumenJson(sandbox, {"list", "tasks", "--filter", "state=FAILED", "--detail"});
  REQUIRE(failed.is_array());
  REQUIRE(failed.size() == 1);
  CHECK(failed[0]["func_or_class_name"] == "Fails");

  json summary = LumenJson(sandbox, {"summary", "tasks"});
  REQUIRE(summary.is_object());
  CHECK(summary["total"] == 1001);
  bool found_plus = false;
  for (const auto& row : summary["summary"]) {
    if (row["func_or_class_name"] != "Plus") continue;
    found_plus = true;
    CHECK(row["total"] == 1000);
    CHECK(row["state_counts"]["FINISHED"] == 1000);
  }
  CHECK(found_plus);

  // `get` by a prefix of the id; the table fits 80 columns.
  const std::string id = tasks[0]["task_id"];
  json one = LumenJson(sandbox, {"get", "tasks", id.substr(0, 20)});
  REQUIRE(one.is_object());
  CHECK(one["task_id"] == id);
  CommandResult table = sandbox.Lumen({"list", "tasks", "--limit", "50"});
  REQUIRE(table.exit_code == 0);
  for (const auto& line : absl::StrSplit(table.out, '\n')) CHECK(line.size() <= 80);
  CHECK_THAT(table.out, Catch::Contains("(showing the last 50 of 1001"));

  const std::string trace_file = sandbox.root() + "/trace.json";
  CommandResult timeline = sandbox.Lumen({"timeline", "-o", trace_file});
  INFO(timeline.Describe());
  REQUIRE(timeline.exit_code == 0);
  json trace = json::parse(ReadFile(trace_file), nullptr, false);
  REQUIRE(trace.is_object());
  REQUIRE(trace["traceEvents"].is_array());
  size_t slices = 0;
  for (const auto& event : trace["traceEvents"]) {
    REQUIRE(event.contains("ph"));
    if (event["ph"] != "X") continue;
    ++slices;
    CHECK(event["ts"].is_number());
    CHECK(event["dur"].is_number());
    CHECK(event["dur"].get<double>() >= 0);
    CHECK(event["pid"].is_number_integer());
    CHECK(event["tid"].is_number_integer());
    CHECK(event["name"].is_string());
  }
  CHECK(slices == 1001);

  // The other kinds answer too.
  json jobs = LumenJson(sandbox, {"list", "jobs"});
  REQUIRE(jobs.is_array());
  CHECK(jobs.size() == 2);
  json nodes = LumenJson(sandbox, {"list", "nodes"});
  REQUIRE(nodes.is_array());
  CHECK(nodes.size() == 1);
  CHECK(LumenJson(sandbox, {"list", "workers"}).is_array());
  CHECK(LumenJson(sandbox, {"list", "placement-groups"}) == json::array());

  // Bad input: one line on stderr, a non-zero exit.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"list", "tasks", "--filter", "colour=red"},
        std::vector<std::string>{"list", "tasks", "--filter", "state"},
        std::vector<std::string>{"list", "objectz"},
        std::vector<std::string>{"get", "tasks", "00ff00ff"},
        std::vector<std::string>{"get", "actors", "abcdef"},
        std::vector<std::string>{"summary", "nodes"},
        std::vector<std::string>{"timeline", "--job", "zz", "-o", trace_file}}) {
    CommandResult result = sandbox.Lumen(bad);
    INFO(bad[0] << " " << bad[1] << ": " << result.Describe());
    CHECK(OneLineError(result));
  }
}

TEST_CASE("lumen list actors shows an actor restarting after its worker is killed, then alive") {
  Sandbox sandbox;
  const std::string address = StartHead(sandbox);
  const std::string gate = sandbox.root() + "/gate";
  pid_t driver = sandbox.Spawn("actor_driver", {Driver(), "actor", gate}, {{"RAY_ADDRESS", address}});
  REQUIRE(driver > 0);
  const std::string out_file = sandbox.root() + "/actor_driver.out";
  int first_pid = 0;
  REQUIRE(WaitUntil(
      [&] {
        std::string out = ReadFile(out_file);
        return std::sscanf(out.c_str(), "pid=%d", &first_pid) == 1;
      },
      60000, 100));
  json actors = LumenJson(sandbox, {"list", "actors"});
  REQUIRE(actors.is_array());
  REQUIRE(actors.size() == 1);
  CHECK(actors[0]["state"] == "ALIVE");
  CHECK_THAT(actors[0]["class_name"].get<std::string>(), Catch::Contains("Gated"));
  CHECK(actors[0]["pid"] == first_pid);

  REQUIRE(::kill(first_pid, SIGKILL) == 0);
  // The restarted factory waits for the gate: the actor stays RESTARTING.
  CHECK(WaitUntil(
      [&] {
        json now = LumenJson(sandbox, {"list", "actors", "--filter", "state=RESTARTING"});
        return now.is_array() && now.size() == 1;
      },
      30000, 100));
  std::ofstream(gate).put('\n');
  CHECK(WaitUntil(
      [&] {
        json now = LumenJson(sandbox, {"list", "actors"});
        return now.is_array() && now.size() == 1 && now[0]["state"] == "ALIVE" && now[0]["num_restarts"] == 1;
      },
      30000, 100));
  CHECK(WaitUntil([&] { return ReadFile(out_file).find("restarted pid=") != std::string::npos; }, 30000, 100));
  // `get` shows the one actor by its id.
  json one = LumenJson(sandbox, {"get", "actors", actors[0]["actor_id"].get<std::string>()});
  REQUIRE(one.is_object());
  CHECK(one["num_restarts"] == 1);
  std::ofstream(gate + ".done").put('\n');
  CHECK(sandbox.WaitForChild(driver, 30000) == 0);
}

TEST_CASE("with a tiny event buffer, lost events are counted and every task still returns") {
  Sandbox sandbox;
  const std::string address = StartHead(sandbox);
  // The driver's buffer holds 10 events between flushes; 500 tasks make
  // about 2,000.
  CommandResult run = sandbox.Run({Driver(), "tasks", "500"}, {{"RAY_ADDRESS", address}, {"LUMEN_TASK_EVENTS_BUFFER", "10"}}, 120000);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  CHECK_THAT(run.out, Catch::Contains("sum=125250"));
  json summary;
  REQUIRE(WaitUntil(
      [&] {
        summary = LumenJson(sandbox, {"summary", "tasks"});
        return summary.is_object() && summary["events_dropped"].get<int64_t>() > 0;
      },
      30000, 200));
  CommandResult table = sandbox.Lumen({"list", "tasks"});
  REQUIRE(table.exit_code == 0);
  CHECK_THAT(table.out, Catch::Contains("dropped by workers and drivers"));
}
