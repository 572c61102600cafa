#include "raylet/gpu_index_pool.h"

#include <algorithm>

#include "common/logging.h"

namespace lumen::raylet {
namespace {

int64_t IndicesFor(int64_t units) {
  return (units + ResourceSet::kUnitsPerWhole - 1) / ResourceSet::kUnitsPerWhole;
}

}  // namespace

GpuIndexPool::GpuIndexPool(int num_gpus) : used_(std::max(num_gpus, 0), 0) {}

GpuIndexPool GpuIndexPool::ForTotal(const ResourceSet& total) {
  return GpuIndexPool(static_cast<int>(total.GetUnits(kGpuResource) / kWhole));
}

int GpuIndexPool::NumFree() const {
  return static_cast<int>(std::count(used_.begin(), used_.end(), 0));
}

bool GpuIndexPool::IsFeasible(int64_t units) const {
  return units <= 0 || IndicesFor(units) <= size();
}

bool GpuIndexPool::CanAllocate(int64_t units) const {
  if (units <= 0) return true;
  if (units < kWhole) return PickShared(units) >= 0;
  return IndicesFor(units) <= NumFree();
}

int GpuIndexPool::PickShared(int64_t units) const {
  int free = -1;
  for (int i = 0; i < size(); ++i) {
    if (used_[i] > 0 && used_[i] + units <= kWhole) return i;  // Pack onto a shared one.
    if (used_[i] == 0 && free < 0) free = i;
  }
  return free;
}

std::optional<std::vector<int>> GpuIndexPool::Allocate(int64_t units) {
  std::vector<int> ids;
  if (units <= 0) return ids;
  if (!CanAllocate(units)) return std::nullopt;
  if (units < kWhole) {
    int index = PickShared(units);
    used_[index] += units;
    ids.push_back(index);
    return ids;
  }
  int64_t wanted = IndicesFor(units);
  for (int i = 0; i < size() && static_cast<int64_t>(ids.size()) < wanted; ++i) {
    if (used_[i] != 0) continue;
    used_[i] = kWhole;
    ids.push_back(i);
  }
  return ids;
}

void GpuIndexPool::Release(const std::vector<int>& ids, int64_t units) {
  if (units <= 0) {
    CHECK(ids.empty()) << "GPU indices released for a request without GPUs";
    return;
  }
  int64_t per_index = std::min(units, kWhole);
  CHECK_EQ(static_cast<int64_t>(ids.size()), units < kWhole ? 1 : IndicesFor(units))
      << "GPU indices released do not match the request";
  for (int index : ids) {
    CHECK(index >= 0 && index < size()) << "GPU index " << index << " out of range";
    CHECK_GE(used_[index], per_index) << "GPU index " << index << " released twice";
    used_[index] -= per_index;
  }
}

}  // namespace lumen::raylet
