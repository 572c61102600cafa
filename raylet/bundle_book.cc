#include "raylet/bundle_book.h"

namespace lumen::raylet {

ResourceSet GroupResources(const std::string& pg_hex, int index, const ResourceSet& shape) {
  ResourceSet out;
  const std::string indexed = "_group_" + std::to_string(index) + "_" + pg_hex;
  const std::string wildcard = "_group_" + pg_hex;
  for (const auto& [name, amount] : shape.ToMap()) {
    out.Set(name + indexed, amount);
    out.Set(name + wildcard, amount);
  }
  out.Set("bundle" + indexed, kBundleMarker);
  out.Set("bundle" + wildcard, kBundleMarker);
  return out;
}

bool BundleBook::Prepare(const std::string& pg_hex, int index, const ResourceSet& shape) {
  auto key = std::make_pair(pg_hex, index);
  if (bundles_.contains(key)) return true;
  std::vector<int> gpu_ids;
  if (!leases_.TakeResources(shape, &gpu_ids)) return false;
  bundles_[key] = Bundle{shape, false, std::move(gpu_ids)};
  return true;
}

absl::Status BundleBook::Commit(const std::string& pg_hex, int index) {
  auto it = bundles_.find(std::make_pair(pg_hex, index));
  if (it == bundles_.end()) {
    return absl::NotFoundError("bundle " + std::to_string(index) + " of placement group " +
                               pg_hex + " is not prepared here");
  }
  if (it->second.committed) return absl::OkStatus();
  it->second.committed = true;
  leases_.AddBundleGpus(pg_hex, index, it->second.gpu_ids);
  leases_.AddCapacity(GroupResources(pg_hex, index, it->second.shape));
  return absl::OkStatus();
}

void BundleBook::Cancel(const std::string& pg_hex, int index) {
  auto it = bundles_.find(std::make_pair(pg_hex, index));
  if (it == bundles_.end()) return;
  if (it->second.committed) {
    ResourceSet group = GroupResources(pg_hex, index, it->second.shape);
    // Only the indexed names: a lease of the wildcard may sit in another
    // bundle of the group on this node; it goes when that bundle goes.
    ResourceSet indexed;
    const std::string suffix = "_group_" + std::to_string(index) + "_" + pg_hex;
    for (const auto& [name, amount] : group.ToMap()) {
      if (name.ends_with(suffix)) indexed.Set(name, amount);
    }
    leases_.KillLeasesUsing(indexed, "its placement group bundle was removed");
    bool last_of_group = true;
    for (const auto& [key, bundle] : bundles_) {
      if (key.first == pg_hex && key.second != index) last_of_group = false;
    }
    if (last_of_group) leases_.KillLeasesUsing(group, "its placement group was removed");
    leases_.RemoveCapacity(group);
    leases_.RemoveBundleGpus(pg_hex, index);
  }
  ResourceSet shape = it->second.shape;
  std::vector<int> gpu_ids = std::move(it->second.gpu_ids);
  bundles_.erase(it);
  leases_.GiveResources(shape, gpu_ids);
}

bool BundleBook::IsCommitted(const std::string& pg_hex, int index) const {
  auto it = bundles_.find(std::make_pair(pg_hex, index));
  return it != bundles_.end() && it->second.committed;
}

}  // namespace lumen::raylet
