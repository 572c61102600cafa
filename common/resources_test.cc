// ValidateResource, table-driven: what is accepted, and that every refusal
// names the resource and the value.
#include "common/resources.h"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <map>
#include <string>

using lumen::ValidateResource;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

}  // namespace

TEST_CASE("ValidateResource accepts names and amounts the raylet can count") {
  struct Case {
    std::string name;
    double amount;
  };
  const Case cases[] = {
      {"CPU", 0},         {"CPU", -0.0},          {"CPU", 2},
      {"CPU", 0.0001},    {"GPU", 0.5},           {"CPU", 0.1 * 3},  // float noise is fine
      {"CPU", 1.0 / 3 * 3}, {"memory", 2e12},     {"special_hardware", 123456.7891},
      {"node:10.0.0.1", 1}, {"accelerator_type:A100", 0.001}, {"big", lumen::kMaxResourceAmount},
      {"x", 12345678.0001},  // 4 decimals survive where a double still resolves them
      {std::string(lumen::kMaxResourceNameBytes, 'a'), 1},
  };
  for (const Case& c : cases) {
    INFO(c.name << " = " << c.amount);
    absl::Status status = ValidateResource(c.name, c.amount);
    CHECK(status.ok());
    if (!status.ok()) FAIL_CHECK(status.ToString());
  }
}

TEST_CASE("ValidateResource refuses bad amounts, naming the resource and the value") {
  struct Case {
    double amount;
    std::string value_text;  // How the message shows the amount.
    std::string why;         // A word of the reason.
  };
  const Case cases[] = {
      {1e300, "1e+300", "largest"},
      {1e14, "1e+14", "largest"},
      {kInf, "inf", "finite"},
      {-kInf, "-inf", "finite"},
      {kNaN, "nan", "finite"},
      {-1, "-1", "negative"},
      {-0.0001, "-0.0001", "negative"},
      {0.00001, "1e-05", "decimal"},
      {1.00005, "1.00005", "decimal"},
  };
  for (const Case& c : cases) {
    INFO(c.value_text);
    absl::Status status = ValidateResource("CPU", c.amount);
    REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
    std::string message(status.message());
    INFO(message);
    CHECK(message.find("\"CPU\"") != std::string::npos);
    CHECK(message.find(c.value_text) != std::string::npos);
    CHECK(message.find(c.why) != std::string::npos);
  }
}

TEST_CASE("ValidateResource refuses empty and unprintable names") {
  struct Case {
    std::string name;
    std::string shown;  // How the message shows the name.
  };
  const Case cases[] = {
      {"", "empty"},
      {"my gpu", "\"my gpu\""},
      {"CPU\n", "\"CPU\\n\""},
      {std::string("a\0b", 3), "\"a\\x00"},
      {"tab\there", "\"tab\\there\""},
      {"caf\xc3\xa9", "\"caf\\xc3\\xa9\""},
      {std::string(lumen::kMaxResourceNameBytes + 1, 'a'), "bytes long"},
  };
  for (const Case& c : cases) {
    absl::Status status = ValidateResource(c.name, 1);
    REQUIRE(status.code() == absl::StatusCode::kInvalidArgument);
    std::string message(status.message());
    INFO(message);
    CHECK(message.find(c.shown) != std::string::npos);
  }
}

TEST_CASE("ValidateResources reports the first bad entry of a map") {
  CHECK(lumen::ValidateResources(std::map<std::string, double>{{"CPU", 1}, {"GPU", 0.5}}).ok());
  absl::Status status =
      lumen::ValidateResources(std::map<std::string, double>{{"CPU", 1}, {"GPU", -2}});
  REQUIRE_FALSE(status.ok());
  CHECK(std::string(status.message()).find("\"GPU\": amount -2") != std::string::npos);
}
