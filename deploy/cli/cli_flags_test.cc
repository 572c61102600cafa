#include "deploy/cli/cli_flags.h"

#include <catch2/catch.hpp>

#include "deploy/cli/flag_table.h"

namespace lumen::cli {
namespace {

absl::StatusOr<ParsedArgs> Parse(std::vector<std::string> args) { return ParseArgs(args); }

TEST_CASE("Both --flag value and --flag=value are accepted") {
  auto a = Parse({"start", "--head", "--port", "7000", "--num-cpus=4", "--num_gpus", "1"});
  REQUIRE(a.ok());
  CHECK(a->command == "start");
  auto request = ToStartRequest(*a);
  REQUIRE(request.ok());
  CHECK(request->node.head);
  CHECK(request->node.port == 7000);
  CHECK(*request->node.num_cpus == 4);
  CHECK(*request->node.num_gpus == 1);
  CHECK_FALSE(request->block);
}

TEST_CASE("Bad command lines give one clear message") {
  struct Case {
    std::vector<std::string> args;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {{}, "no command"},
      {{"frobnicate"}, "unknown command"},
      {{"start", "--head", "--bogus"}, "unknown flag --bogus"},
      {{"status", "--force"}, "unknown flag --force for `lumen status`"},
      {{"start", "--port"}, "needs a value"},
      {{"start", "--port", "--head"}, "needs a value"},
      {{"start", "stray"}, "unexpected argument"},
      {{"stop", "--force=maybe"}, "takes no value"},
      {{"start", "--head", "--port", "abc"}, "--port must be"},
      {{"start", "--head", "--num-cpus", "-2"}, "--num-cpus must be"},
      {{"start", "--head", "--object-store-memory", "lots"}, "--object-store-memory"},
      {{"start", "--head", "--node-manager-port", "70000"}, "--node-manager-port must be 0..65535"},
      {{"--version", "extra"}, "unexpected argument"},
  };
  for (const auto& c : cases) {
    INFO(c.message_part);
    auto parsed = Parse(c.args);
    REQUIRE_FALSE(parsed.ok());
    CHECK(std::string(parsed.status().message()).find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("ToStartRequest checks flags across") {
  struct Case {
    std::vector<std::string> args;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {{"start"}, "needs --head"},
      {{"start", "--head", "--address", "1.2.3.4:5"}, "not both"},
      {{"start", "--address", "1.2.3.4:5", "--port", "1"}, "head node"},
  };
  for (const auto& c : cases) {
    INFO(c.message_part);
    auto parsed = Parse(c.args);
    REQUIRE(parsed.ok());
    auto request = ToStartRequest(*parsed);
    REQUIRE_FALSE(request.ok());
    CHECK(std::string(request.status().message()).find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("Worker node, block and port flags") {
  auto a = Parse({"start", "--address=10.0.0.1:6379", "--block", "--resources", R"({"special_hardware": 1})",
                  "--object-store-memory", "2e9", "--node-manager-port", "7001", "--min-worker-port=20000",
                  "--max_worker_port", "20009", "--object-manager-port", "7002"});
  REQUIRE(a.ok());
  auto request = ToStartRequest(*a);
  REQUIRE(request.ok());
  CHECK_FALSE(request->node.head);
  CHECK(request->node.gcs_address == "10.0.0.1:6379");
  CHECK(request->block);
  CHECK(request->node.die_with_parent);
  CHECK(*request->node.object_store_memory == 2000000000);
  CHECK(request->node.resources_json == R"({"special_hardware": 1})");
  CHECK(request->node.raylet_port == 7001);
  CHECK(request->node.min_worker_port == 20000);
  CHECK(request->node.max_worker_port == 20009);
  CHECK(request->node.object_manager_port == 7002);
}

TEST_CASE("Stop and status requests; a switch given false") {
  auto stop = Parse({"stop", "--force", "--temp-dir", "/x", "--force=false"});
  REQUIRE(stop.ok());
  CHECK(stop->stop.temp_dir == "/x");
  CHECK_FALSE(stop->stop.force);
  auto status = Parse({"status", "--address=1.2.3.4:5", "--token-file", "t", "--tls-ca", "ca.pem"});
  REQUIRE(status.ok());
  CHECK(status->status.address == "1.2.3.4:5");
  CHECK(status->status.token_file == "t");
  CHECK(status->status.tls.ca_file == "ca.pem");
}

TEST_CASE("Help, version and the generated texts") {
  CHECK(Parse({"--help"})->command == "help");
  CHECK(Parse({"help"})->command == "help");
  CHECK(Parse({"--version"})->command == "version");
  CHECK(Parse({"--help-markdown"})->command == "help-markdown");
  CHECK(Parse({"status", "--help"})->help);
  for (const std::string& command : CommandNames()) {
    INFO(command);
    const std::string usage = Usage(command);
    CHECK(usage.rfind("usage: lumen " + command, 0) == 0);
    CHECK(Usage("").find("  " + command + " ") != std::string::npos);
    CHECK(MarkdownFlagTables().find("### lumen " + command + "\n") != std::string::npos);
  }
  CHECK(Usage("start").find("--num-cpus N") != std::string::npos);
  CHECK(Usage("start").find("(default: detected") != std::string::npos);
  CHECK(MarkdownFlagTables().find("| `--min-worker-port PORT` |") != std::string::npos);
}

TEST_CASE("Wrap keeps lines within the width") {
  const std::string text = "one two three four five six seven eight nine ten eleven twelve";
  const std::string wrapped = Wrap(text, 20, 30, 10);
  size_t start = 0;
  bool first = true;
  while (start < wrapped.size()) {
    size_t end = wrapped.find('\n', start);
    if (end == std::string::npos) end = wrapped.size();
    CHECK(end - start <= (first ? 20u : 30u));
    first = false;
    start = end + 1;
  }
  CHECK(wrapped.find("\n          ") != std::string::npos);
}

}  // namespace
}  // namespace lumen::cli
