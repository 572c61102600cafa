// `lumen memory`, `lumen list objects`, `lumen summary objects` over a real
// cluster (issue 13): a driver's pinned ray::Put shows with its size, where
// it lives, why it is held and its owner's pid; an object only a pending
// task holds shows as USED_BY_PENDING_TASK, and one only lineage holds
// as USED_BY_LINEAGE; bad input gives one-line errors.
#include <catch2/catch.hpp>
#include <fstream>
#include <regex>

#include "absl/strings/str_split.h"
#include "nlohmann/json.hpp"
#include "tests/harness.h"

using lumen::testing::CommandResult;
using lumen::testing::ReadFile;
using lumen::testing::Sandbox;
using lumen::testing::WaitUntil;
using nlohmann::json;

namespace {

bool OneLineError(const CommandResult& result) {
  return result.exit_code != 0 && result.out.empty() && !result.err.empty() &&
         result.err.find('\n') == result.err.size() - 1;
}

const json* FindRow(const json& rows, const std::string& id) {
  for (const auto& row : rows) {
    if (row.value("object_id", "") == id) return &row;
  }
  return nullptr;
}

}  // namespace

TEST_CASE("lumen memory shows a pinned Put, its size, its owner and why it is held") {
  Sandbox sandbox;
  const int port = Sandbox::FreePort();
  CommandResult start = sandbox.Lumen({"start", "--head", "--port", std::to_string(port), "--num-cpus", "1",
                                       "--object-store-memory", "64000000"});
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  const std::string address = "127.0.0.1:" + std::to_string(port);

  const std::string gate = sandbox.root() + "/gate";
  pid_t driver = sandbox.Spawn("memory_driver", {Sandbox::BinDir() + "/memory_driver", gate},
                               {{"RAY_ADDRESS", address}});
  REQUIRE(driver > 0);
  const std::string out_file = sandbox.root() + "/memory_driver.out";
  std::smatch match;
  std::string out;
  const std::regex ready(
      "ready put=([0-9a-f]+) return=([0-9a-f]+) pid=([0-9]+) arg=([0-9a-f]+) lineage=([0-9a-f]+)");
  REQUIRE(WaitUntil(
      [&] {
        out = ReadFile(out_file);
        return std::regex_search(out, match, ready);
      },
      60000, 100));
  const std::string put_id = match[1], return_id = match[2], pid = match[3], arg_id = match[4],
                    lineage_id = match[5];

  CommandResult memory = sandbox.Lumen({"memory"});
  INFO(memory.Describe());
  REQUIRE(memory.exit_code == 0);
  CHECK_THAT(memory.out, Catch::Contains("driver pid " + pid + " on "));
  CHECK_THAT(memory.out, Catch::Contains(put_id.substr(0, 12)));
  CHECK_THAT(memory.out, Catch::Contains("PINNED_IN_MEMORY"));
  CHECK_THAT(memory.out, Catch::Contains("USED_BY_PENDING_TASK"));
  CHECK_THAT(memory.out, Catch::Contains("object refs in"));
  for (const auto& line : absl::StrSplit(memory.out, '\n')) CHECK(line.size() <= 80);

  CommandResult listed = sandbox.Lumen({"list", "objects", "--format", "json"});
  INFO(listed.Describe());
  REQUIRE(listed.exit_code == 0);
  json rows = json::parse(listed.out, nullptr, false);
  REQUIRE(rows.is_array());
  const json* put = FindRow(rows, put_id);
  REQUIRE(put != nullptr);
  CHECK((*put)["reference_type"] == "PINNED_IN_MEMORY");
  CHECK((*put)["source"] == "PUT");
  CHECK((*put)["where"] == "plasma");
  CHECK((*put)["size"].get<int64_t>() >= (1 << 20));
  CHECK((*put)["size"].get<int64_t>() < (1 << 20) + 1024);
  CHECK(std::to_string((*put)["pid"].get<int>()) == pid);
  CHECK((*put)["process"] == "driver");
  const json* ret = FindRow(rows, return_id);
  REQUIRE(ret != nullptr);
  CHECK((*ret)["reference_type"] == "LOCAL_REFERENCE");
  CHECK((*ret)["source"] == "TASK_RETURN");
  CHECK((*ret)["where"] == "in-process");
  CHECK((*ret)["size"].get<int64_t>() > 0);
  // The driver dropped its ref; the task waiting for the gate holds it.
  const json* arg = FindRow(rows, arg_id);
  REQUIRE(arg != nullptr);
  CHECK((*arg)["reference_type"] == "USED_BY_PENDING_TASK");
  CHECK((*arg)["process"] == "driver");
  CHECK((*arg)["task_args"] == 1);
  CHECK((*arg)["local_refs"] == 0);
  // The driver dropped its ref; lineage keeps it for a re-run of the task
  // whose result is still referenced.
  const json* pinned_by_lineage = FindRow(rows, lineage_id);
  REQUIRE(pinned_by_lineage != nullptr);
  CHECK((*pinned_by_lineage)["reference_type"] == "USED_BY_LINEAGE");
  CHECK((*pinned_by_lineage)["lineage"] == 1);
  CHECK((*pinned_by_lineage)["local_refs"] == 0);
  CHECK((*pinned_by_lineage)["where"] == "plasma");

  CommandResult filtered =
      sandbox.Lumen({"list", "objects", "--filter", "reference_type=PINNED_IN_MEMORY", "--format", "json"});
  REQUIRE(filtered.exit_code == 0);
  json pinned = json::parse(filtered.out, nullptr, false);
  REQUIRE(pinned.is_array());
  CHECK(FindRow(pinned, put_id) != nullptr);
  CHECK(FindRow(pinned, return_id) == nullptr);

  CommandResult summary = sandbox.Lumen({"summary", "objects", "--format", "json"});
  INFO(summary.Describe());
  REQUIRE(summary.exit_code == 0);
  json counts = json::parse(summary.out, nullptr, false);
  REQUIRE(counts.is_array());
  bool counted = false;
  for (const auto& row : counts) {
    if (row["group"] == "reference_type" && row["name"] == "PINNED_IN_MEMORY") {
      counted = true;
      CHECK(row["refs"].get<int>() >= 1);
      CHECK(row["bytes"].get<int64_t>() >= (1 << 20));
    }
  }
  CHECK(counted);

  CHECK(OneLineError(sandbox.Lumen({"list", "objects", "--filter", "colour=red"})));
  CHECK(OneLineError(sandbox.Lumen({"memory", "extra"})));

  std::ofstream(gate).put('\n');
  CHECK(sandbox.WaitForChild(driver, 30000) == std::optional<int>(0));
  CHECK(sandbox.Lumen({"stop"}).exit_code == 0);
}
