#include "common/resources.h"

#include <cmath>
#include <cstdio>
#include <string>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "nlohmann/json.hpp"

namespace lumen {
namespace {

std::string FormatAmount(double amount) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.10g", amount);
  return buf;
}

absl::Status BadAmount(absl::string_view name, double amount, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("resource \"", absl::CHexEscape(name),
                                                 "\": amount ", FormatAmount(amount), " ", why));
}

bool IsWholeNumberOfUnits(double amount) {
  double units = amount * kResourceUnitsPerWhole;
  double slack = std::max(1e-6, std::fabs(units) * 1e-14);
  return std::fabs(units - std::nearbyint(units)) <= slack;
}

}  // namespace

absl::Status ValidateResource(absl::string_view name, double amount) {
  if (name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a resource name is empty (amount ", FormatAmount(amount),
                     "); name it, e.g. \"CPU\" or \"special_hardware\""));
  }
  if (name.size() > kMaxResourceNameBytes) {
    return absl::InvalidArgumentError(absl::StrCat("resource \"", absl::CHexEscape(name.substr(0, 32)),
                                                   "...\": the name is ", name.size(),
                                                   " bytes long; at most ",
                                                   kMaxResourceNameBytes, " are allowed"));
  }
  for (size_t i = 0; i < name.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x21 || c > 0x7E) {
      return absl::InvalidArgumentError(absl::StrCat(
          "resource \"", absl::CHexEscape(name), "\": byte ", i,
          c == ' ' ? " is a space" : " is not printable ASCII",
          "; names are printable ASCII without spaces"));
    }
  }
  if (!std::isfinite(amount)) return BadAmount(name, amount, "is not a finite number");
  if (amount < 0) return BadAmount(name, amount, "is negative; amounts must be >= 0");
  if (amount > kMaxResourceAmount) {
    return BadAmount(name, amount,
                     absl::StrCat("is larger than the largest amount allowed, ",
                                  FormatAmount(kMaxResourceAmount)));
  }
  if (!IsWholeNumberOfUnits(amount)) {
    return BadAmount(name, amount,
                     "has more than 4 decimal places; amounts are counted in units of 0.0001");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::map<std::string, double>> ParseResourcesJson(const std::string& json) {
  std::map<std::string, double> out;
  if (json.find_first_not_of(" \t\r\n") == std::string::npos) return out;
  nlohmann::json parsed = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return absl::InvalidArgumentError("--resources is not valid JSON: '" + json +
                                      "' (expected e.g. '{\"accelerator\": 2}')");
  }
  if (!parsed.is_object()) {
    return absl::InvalidArgumentError("--resources must be a JSON object of numbers, got '" + json +
                                      "'");
  }
  for (const auto& [name, value] : parsed.items()) {
    if (name.empty()) return absl::InvalidArgumentError("--resources: empty resource name");
    if (name == "CPU" || name == "GPU") {
      return absl::InvalidArgumentError("--resources must not set " + name + "; use --num-" +
                                        (name == "CPU" ? "cpus" : "gpus"));
    }
    if (!value.is_number() || !std::isfinite(value.get<double>()) || value.get<double>() < 0) {
      return absl::InvalidArgumentError("--resources: '" + name +
                                        "' must be a non-negative number, got " + value.dump());
    }
    if (absl::Status bad = ValidateResource(name, value.get<double>()); !bad.ok()) {
      return absl::InvalidArgumentError("--resources: " + std::string(bad.message()));
    }
    out[name] = value.get<double>();
  }
  return out;
}

}  // namespace lumen
