#include "deploy/cli/cli_flags.h"

#include <catch2/catch.hpp>

namespace lumen::cli {
namespace {

absl::StatusOr<ParsedArgs> Parse(std::vector<std::string> args) { return ParseArgs(args); }

TEST_CASE("Both --flag value and --flag=value are accepted") {
  auto a = Parse({"start", "--head", "--port", "7000", "--num-cpus=4", "--num_gpus", "1"});
  REQUIRE(a.ok());
  CHECK(a->command == "start");
  CHECK(a->switches.count("head"));
  CHECK(a->Value("port") == "7000");
  CHECK(a->Value("num-cpus") == "4");
  CHECK(a->Value("num-gpus") == "1");
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
      {{"frobnicate"}, "unknown command"},
      {{"start", "--head", "--bogus"}, "unknown flag --bogus"},
      {{"start", "--port"}, "needs a value"},
      {{"start", "--port", "--head"}, "needs a value"},
      {{"start", "stray"}, "unexpected argument"},
      {{"stop", "--force=maybe"}, "takes no value"},
  };
  for (const auto& c : cases) {
    INFO(c.args[0] << " " << c.message_part);
    auto parsed = Parse(c.args);
    REQUIRE_FALSE(parsed.ok());
    CHECK(std::string(parsed.status().message()).find(c.message_part) != std::string::npos);
  }
}

TEST_CASE("ToStartRequest checks values") {
  struct Case {
    std::vector<std::string> args;
    std::string message_part;
  };
  const std::vector<Case> cases = {
      {{"start"}, "needs --head"},
      {{"start", "--head", "--address", "1.2.3.4:5"}, "not both"},
      {{"start", "--head", "--port", "abc"}, "--port must be"},
      {{"start", "--head", "--num-cpus", "-2"}, "--num-cpus must be"},
      {{"start", "--head", "--object-store-memory", "lots"}, "--object-store-memory"},
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

TEST_CASE("Worker node and block flags") {
  auto a = Parse({"start", "--address=10.0.0.1:6379", "--block", "--resources",
                  R"({"special_hardware": 1})", "--object-store-memory", "2e9"});
  REQUIRE(a.ok());
  auto request = ToStartRequest(*a);
  REQUIRE(request.ok());
  CHECK_FALSE(request->node.head);
  CHECK(request->node.gcs_address == "10.0.0.1:6379");
  CHECK(request->block);
  CHECK(request->node.die_with_parent);
  CHECK(*request->node.object_store_memory == 2000000000);
  CHECK(request->node.resources_json == R"({"special_hardware": 1})");
}

TEST_CASE("Help") {
  CHECK(Parse({})->command == "help");
  CHECK(Parse({"--help"})->command == "help");
  CHECK(Parse({"status", "--help"})->help);
  CHECK(Usage("start").find("--num-cpus") != std::string::npos);
}

}  // namespace
}  // namespace lumen::cli
