// common/resources.h
//
// The one rule for resource names and amounts, checked wherever a resource
// enters Lumen: the C++ API's setters and Init options (which throw
// std::invalid_argument with the message), the raylet's lease requests
// (refused with INVALID_ARGUMENT: a client may skip the API's check) and
// its --resources flag.
//
//   name    1..kMaxResourceNameBytes bytes of printable ASCII, no spaces
//           (0x21..0x7E): "CPU", "GPU", "node:10.0.0.1", "accelerator_type:A100".
//   amount  finite, >= 0, <= kMaxResourceAmount, and a whole number of
//           1/10000 units (the raylet counts in fixed point, as Ray does):
//           amount * 10000 lies within max(1e-6, |amount * 10000| * 1e-14)
//           of an integer. The slack absorbs float noise (0.1 * 3 is fine);
//           0.00001 is refused rather than silently rounded to 0.
// The bound keeps the raylet's fixed point (int64 units of 1/10000) far
// from overflow: 1e13 * 10000 = 1e17, and int64 holds 92 of them.
// Pure functions; no threading rules. Failure: InvalidArgument whose
// message names the resource and the value and fits on one line.
#pragma once

#include <map>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace lumen {

inline constexpr double kMaxResourceAmount = 1e13;
inline constexpr double kResourceUnitsPerWhole = 10000;
inline constexpr size_t kMaxResourceNameBytes = 256;

// OK, or InvalidArgument naming `name` (escaped) and `amount`.
absl::Status ValidateResource(absl::string_view name, double amount);

// Every entry of a map of name -> amount; the first bad one's error.
template <typename Map>
absl::Status ValidateResources(const Map& resources) {
  for (const auto& [name, amount] : resources) {
    absl::Status status = ValidateResource(name, amount);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

// Parses a --resources flag: a JSON object of resource amounts, each checked
// by ValidateResource. Blank input is an empty map. "CPU" and "GPU" are
// refused (they have their own flags, --num-cpus and --num-gpus).
// InvalidArgument, one line starting "--resources", names the problem.
absl::StatusOr<std::map<std::string, double>> ParseResourcesJson(const std::string& json);

}  // namespace lumen
