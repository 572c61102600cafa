#include "deploy/cli/state_format.h"

#include <catch2/catch.hpp>
#include <sstream>

#include "absl/strings/str_split.h"
#include "deploy/cli/cli_flags.h"
#include "deploy/cli/timeline.h"

using namespace lumen;
using namespace lumen::cli;

namespace {

rpc::TaskInfoEntry Task(const std::string& id, const std::string& function, rpc::TaskState state, int pid,
                        int64_t start_ns, int64_t end_ns) {
  rpc::TaskInfoEntry task;
  task.set_task_id(id);
  task.set_function_name(function);
  task.set_state(state);
  task.set_worker_pid(pid);
  task.set_submitter_pid(7);
  task.mutable_state_time_ns()->Resize(rpc::TaskState_ARRAYSIZE, 0);
  auto add = [&](rpc::TaskState s, int64_t t) { task.set_state_time_ns(s, t); };
  add(rpc::PENDING_ARGS_AVAIL, start_ns - 1000);
  add(rpc::RUNNING, start_ns);
  if (end_ns > 0) add(state, end_ns);
  return task;
}

}  // namespace

TEST_CASE("filters: KEY=VALUE and KEY!=VALUE on known keys; bad ones are one-line errors") {
  const KindSpec* tasks = FindKind("tasks");
  REQUIRE(tasks != nullptr);
  auto filters = ParseFilters(*tasks, {"state=finished", "NAME!=Other"});
  REQUIRE(filters.ok());
  Row row = TaskRow(Task("\x01\x02", "Plus", rpc::FINISHED, 5, 10, 20));
  CHECK(Matches(row, *filters));
  row["name"] = "Other";
  CHECK_FALSE(Matches(row, *filters));

  auto unknown = ParseFilters(*tasks, {"colour=red"});
  REQUIRE_FALSE(unknown.ok());
  CHECK(std::string(unknown.status().message()).find("unknown filter key \"colour\" for tasks") == 0);
  CHECK(std::string(unknown.status().message()).find('\n') == std::string::npos);
  CHECK_FALSE(ParseFilters(*tasks, {"state"}).ok());
  CHECK_FALSE(ParseFilters(*tasks, {"=x"}).ok());
  CHECK(FindKind("placement-groups") != nullptr);
  CHECK(FindKind("objectz") == nullptr);
}

TEST_CASE("tables fit 80 columns, cutting the widest cells") {
  std::vector<Row> rows;
  for (int i = 0; i < 3; ++i) {
    rpc::TaskInfoEntry task = Task(std::string(24, static_cast<char>(i + 1)), "AVeryLongFunctionNameIndeed::Method",
                                   rpc::PENDING_NODE_ASSIGNMENT, 12345, 10, 0);
    task.set_type(rpc::ACTOR_CREATION_TASK);
    task.set_error_type("TASK_EXCEPTION");
    rows.push_back(TaskRow(task));
  }
  std::string table = FormatTable(FindKind("tasks")->table_columns, rows);
  std::vector<std::string> lines = absl::StrSplit(table, '\n', absl::SkipEmpty());
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].rfind("TASK_ID", 0) == 0);
  for (const auto& line : lines) CHECK(line.size() <= 80);
  CHECK(lines[1].rfind("010101", 0) == 0);  // Ids keep their prefix.
}

TEST_CASE("json and yaml carry every field; yaml quotes what would not read back as text") {
  Row row = TaskRow(Task(std::string("\x00\x01", 2), "Plus", rpc::FAILED, 5, 10, 20));
  nlohmann::json parsed = nlohmann::json::parse(FormatJson(std::vector<Row>{row}));
  REQUIRE(parsed.size() == 1);
  CHECK(parsed[0]["state"] == "FAILED");
  CHECK(parsed[0]["task_id"] == "0001");
  CHECK(parsed[0]["state_times_ms"].is_object());
  std::string yaml = FormatYaml(std::vector<Row>{row});
  CHECK(yaml.find("- task_id: \"0001\"\n") == 0);
  CHECK(yaml.find("  state: FAILED\n") != std::string::npos);
  CHECK(yaml.find("  name: Plus\n") != std::string::npos);
  CHECK(yaml.find("  error_type: \"\"\n") != std::string::npos);
  CHECK(FormatYaml(std::vector<Row>{}) == "[]\n");
}

TEST_CASE("summaries count per function and state") {
  std::vector<Row> rows;
  for (int i = 0; i < 3; ++i) rows.push_back(TaskRow(Task("a" + std::to_string(i), "Plus", rpc::FINISHED, 5, 1, 2)));
  rows.push_back(TaskRow(Task("b", "Plus", rpc::FAILED, 5, 1, 2)));
  rows.push_back(TaskRow(Task("c", "Minus", rpc::RUNNING, 5, 1, 0)));
  std::vector<Row> summary = SummarizeTasks(rows);
  REQUIRE(summary.size() == 2);
  CHECK(summary[0]["func_or_class_name"] == "Minus");
  CHECK(summary[1]["total"] == 4);
  CHECK(summary[1]["state_counts"]["FINISHED"] == 3);
  CHECK(summary[1]["state_counts"]["FAILED"] == 1);
  CHECK(summary[1]["states"] == "FAILED: 1, FINISHED: 3");
}

TEST_CASE("the timeline has one X slice per ended task on its worker's row, and flows") {
  std::vector<rpc::TaskInfoEntry> tasks = {Task("a", "Plus", rpc::FINISHED, 100, 5'000'000, 7'000'000),
                                           Task("b", "Plus", rpc::FAILED, 101, 6'000'000, 6'500'000),
                                           Task("c", "Slow", rpc::RUNNING, 100, 8'000'000, 0)};
  nlohmann::json trace = nlohmann::json::parse(ChromeTrace(tasks).dump());
  REQUIRE(trace["traceEvents"].is_array());
  int slices = 0, starts = 0, finishes = 0;
  for (const auto& event : trace["traceEvents"]) {
    std::string ph = event["ph"];
    if (ph == "X") {
      ++slices;
      CHECK(event["pid"] == event["tid"]);
      CHECK(event["ts"].is_number());
      CHECK(event["dur"].is_number());
      CHECK(event["name"] == "Plus");
    }
    starts += ph == "s";
    finishes += ph == "f";
  }
  CHECK(slices == 2);
  CHECK(starts == 2);
  CHECK(finishes == 2);
  CHECK(trace["traceEvents"][0]["ts"] == 5000.0);
  CHECK(trace["traceEvents"][0]["dur"] == 2000.0);
}

TEST_CASE("state commands take their kind and id as words, -o as --output") {
  auto parsed = ParseArgs({"list", "tasks", "--filter", "state=FAILED", "--filter=name!=x", "--limit", "5",
                           "--format", "json"});
  REQUIRE(parsed.ok());
  CHECK(parsed->command == "list");
  CHECK(parsed->state.words == std::vector<std::string>{"tasks"});
  CHECK(parsed->state.filters.size() == 2);
  CHECK(parsed->state.limit == 5);
  CHECK(parsed->state.format == "json");
  auto timeline = ParseArgs({"timeline", "-o", "t.json", "--address", "h:1"});
  REQUIRE(timeline.ok());
  CHECK(timeline->state.output == "t.json");
  CHECK(timeline->status.address == "h:1");
  CHECK_FALSE(ParseArgs({"list", "tasks", "--limit", "0"}).ok());
  CHECK_FALSE(ParseArgs({"list", "tasks", "--format", "xml"}).ok());
  CHECK_FALSE(ParseArgs({"status", "extra"}).ok());  // Other commands still refuse words.
}
