// raylet/bundle_book.h
//
// BundleBook holds the placement group bundles reserved on this node, in
// the two phases the GCS drives (docs/scheduling.md, "Placement groups"):
//
//   Prepare(shape): the shape is taken from the node's available resources
//     (LeaseManager::TakeResources), GPU indices included; refused when it
//     does not fit now. The leases in a committed bundle with GPUs get
//     indices among the bundle's (LeaseManager::AddBundleGpus), so their
//     workers see them in CUDA_VISIBLE_DEVICES.
//   Commit: the node gains the bundle's group resources (GroupResources):
//     for each resource R of the shape, R_group_<i>_<pg> and R_group_<pg>,
//     plus bundle_group_<i>_<pg> and bundle_group_<pg> (kBundleMarker each)
//     that every lease inside the group asks a sliver of, so a zero-resource
//     actor still lands on the bundle's node. Leases of the group ask for
//     these names instead of the plain ones, so only this node can run them.
//   Cancel (prepared or committed): the workers leased from the bundle are
//     killed, the group resources go away and the shape comes back.
//
// Each step is idempotent (the GCS repeats calls whose reply was lost):
// a second Prepare of the same bundle is true, Commit of an unknown bundle
// is NotFound, Cancel of an unknown one does nothing.
// Threading: the raylet loop only. Not owned: the LeaseManager.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "raylet/lease_manager.h"
#include "raylet/resource_set.h"

namespace lumen::raylet {

inline constexpr double kBundleMarker = 1000;

// The resources a committed bundle `index` (>= 0) of group `pg_hex` adds.
ResourceSet GroupResources(const std::string& pg_hex, int index, const ResourceSet& shape);

class BundleBook {
 public:
  explicit BundleBook(LeaseManager& leases) : leases_(leases) {}

  bool Prepare(const std::string& pg_hex, int index, const ResourceSet& shape);
  absl::Status Commit(const std::string& pg_hex, int index);
  void Cancel(const std::string& pg_hex, int index);

  size_t size() const { return bundles_.size(); }
  bool IsCommitted(const std::string& pg_hex, int index) const;

 private:
  struct Bundle {
    ResourceSet shape;
    bool committed = false;
    std::vector<int> gpu_ids;  // The node's GPU indices it reserved.
  };
  LeaseManager& leases_;
  std::map<std::pair<std::string, int>, Bundle> bundles_;
};

}  // namespace lumen::raylet
