// include/ray/api/placement_group.h
//
// Placement groups, as Ray's C++ API has them (docs/scheduling.md,
// "Placement groups"): a set of resource bundles reserved together across
// the cluster, then used by tasks and actors with
// .SetPlacementGroup(group, bundle_index).
//
//   ray::PlacementGroupCreationOptions options{
//       "workers", {{{"CPU", 1}}, {{"CPU", 1}}}, ray::PlacementStrategy::STRICT_SPREAD};
//   ray::PlacementGroup pg = ray::CreatePlacementGroup(options);
//   if (!pg.Wait(30)) { ... still PENDING: the cluster cannot hold it now ... }
//   ray::Task(Work).SetPlacementGroup(pg, 0).Remote();
//   ray::RemovePlacementGroup(pg.GetID());  // Frees the bundles, kills what ran in them.
//
// Strategies: PACK (as few nodes as possible), SPREAD (distinct nodes where
// possible), STRICT_PACK (one node), STRICT_SPREAD (one node per bundle).
// Creation answers at once; the group is PENDING until every bundle is
// reserved, and waits (retried as nodes join or free up) when it cannot be.
// Ids are hex strings (Ray's are binary). A PlacementGroup is a plain
// handle; GetState() asks the GCS each time. Thread-safety: as the rest of
// the API (any thread after ray::Init). Failure: bad bundles throw
// std::invalid_argument; GCS errors throw ray::internal::RayException.
#pragma once

#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "ray/api/runtime.h"

namespace ray {

enum class PlacementStrategy { PACK = 0, SPREAD = 1, STRICT_PACK = 2, STRICT_SPREAD = 3 };
enum PlacementGroupState { PENDING = 0, CREATED = 1, REMOVED = 2, RESCHEDULING = 3 };

struct PlacementGroupCreationOptions {
  std::string name;  // Empty: not named.
  std::vector<std::unordered_map<std::string, double>> bundles;
  PlacementStrategy strategy = PlacementStrategy::PACK;
};

class PlacementGroup {
 public:
  PlacementGroup() = default;
  PlacementGroup(std::string id, PlacementGroupCreationOptions options)
      : id_(std::move(id)), options_(std::move(options)) {}

  std::string GetID() const { return id_; }
  std::string GetName() const { return options_.name; }
  std::vector<std::unordered_map<std::string, double>> GetBundles() const {
    return options_.bundles;
  }
  PlacementStrategy GetStrategy() const { return options_.strategy; }
  PlacementGroupState GetState() const {
    return static_cast<PlacementGroupState>(internal::GetPlacementGroup(id_, "").state);
  }
  bool Empty() const { return id_.empty(); }
  // True once every bundle is reserved; false after `timeout_seconds`.
  bool Wait(int timeout_seconds) const {
    return internal::WaitPlacementGroupReady(id_, timeout_seconds);
  }

 private:
  std::string id_;
  PlacementGroupCreationOptions options_;
};

namespace internal {
// SetPlacementGroup's check: throws std::invalid_argument unless `group` is
// a group and `bundle_index` one of its bundles or -1 (any).
inline void CheckBundleIndex(const PlacementGroup& group, int bundle_index) {
  if (group.Empty()) throw std::invalid_argument("SetPlacementGroup: the group is empty (not found?)");
  const int size = static_cast<int>(group.GetBundles().size());
  if (bundle_index < -1 || bundle_index >= size) {
    throw std::invalid_argument("SetPlacementGroup: bundle index " + std::to_string(bundle_index) +
                                " is out of range for a group of " + std::to_string(size) +
                                " bundles");
  }
}

inline PlacementGroup ToPlacementGroup(const PlacementGroupData& data) {
  if (data.id.empty()) return PlacementGroup();
  return PlacementGroup(data.id, PlacementGroupCreationOptions{
                                     data.name, data.bundles,
                                     static_cast<PlacementStrategy>(data.strategy)});
}
}  // namespace internal

inline PlacementGroup CreatePlacementGroup(const PlacementGroupCreationOptions& options) {
  std::string id = internal::CreatePlacementGroup(options.name, options.bundles,
                                                  static_cast<int>(options.strategy));
  return PlacementGroup(id, options);
}
inline void RemovePlacementGroup(const std::string& placement_group_id) {
  internal::RemovePlacementGroup(placement_group_id);
}
// Empty() when there is no such group.
inline PlacementGroup GetPlacementGroupById(const std::string& id) {
  return internal::ToPlacementGroup(internal::GetPlacementGroup(id, ""));
}
inline PlacementGroup GetPlacementGroup(const std::string& name) {
  return internal::ToPlacementGroup(internal::GetPlacementGroup("", name));
}
inline std::vector<PlacementGroup> GetAllPlacementGroups() {
  std::vector<PlacementGroup> out;
  for (const auto& data : internal::GetAllPlacementGroups()) {
    out.push_back(internal::ToPlacementGroup(data));
  }
  return out;
}

}  // namespace ray
