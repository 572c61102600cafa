// worker/placement_group_spec.h
//
// Puts a task's or actor's placement group (the API's SetPlacementGroup,
// plain fields of ray::internal::TaskOptions / ActorOptions) into its
// TaskSpec, rewriting the resource shape to the group's resources, which
// only the nodes holding the group's bundles have (docs/scheduling.md,
// "Placement groups"; raylet/bundle_book.h names them): {"CPU": 1} in
// bundle 2 of group g becomes {"CPU_group_2_g": 1, "bundle_group_2_g":
// 0.001}; with bundle index -1, {"CPU_group_g": 1, "bundle_group_g": 0.001}.
// The bundle marker makes a zero-resource actor land in its bundle too.
// No group set: the spec is untouched. Throws std::invalid_argument for an
// id that is not hex.
#pragma once

#include <map>
#include <stdexcept>
#include <string>

#include "absl/strings/ascii.h"
#include "proto/common.pb.h"

namespace lumen::worker {

inline constexpr double kBundleMarkerRequest = 0.001;

template <typename Options>
void SetPlacementGroup(const Options& options, rpc::TaskSpec* spec) {
  if (options.placement_group_id.empty()) return;
  std::string hex = absl::AsciiStrToLower(options.placement_group_id);
  if (hex.size() % 2 != 0 || hex.find_first_not_of("0123456789abcdef") != std::string::npos) {
    throw std::invalid_argument("SetPlacementGroup: \"" + options.placement_group_id +
                                "\" is not a placement group id");
  }
  std::string binary;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    binary.push_back(static_cast<char>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  const int index = options.placement_group_bundle_index;
  spec->set_placement_group_id(binary);
  spec->set_placement_group_bundle_index(index);
  const std::string suffix =
      index < 0 ? "_group_" + hex : "_group_" + std::to_string(index) + "_" + hex;
  std::map<std::string, double> rewritten;
  for (const auto& [name, amount] : spec->required_resources()) {
    if (amount > 0) rewritten[name + suffix] = amount;
  }
  rewritten["bundle" + suffix] = kBundleMarkerRequest;
  spec->clear_required_resources();
  for (const auto& [name, amount] : rewritten) (*spec->mutable_required_resources())[name] = amount;
}

}  // namespace lumen::worker
