// raylet/gpu_index_pool.h
//
// GpuIndexPool decides which of the node's GPUs (indices 0..N-1) a lease
// may use. ResourceSet only counts GPUs; this class names them, so that the
// worker can set CUDA_VISIBLE_DEVICES for the lease's tasks.
//
// Rule, for a lease asking for g GPUs (in ResourceSet units of 1/10000):
//   - g >= 1: ceil(g) indices, each taken whole and by that lease alone;
//     the lowest free indices first (1.5 GPU reserves two indices);
//   - 0 < g < 1: one index, shared with other fractional leases as long as
//     their fractions add up to at most 1. The lowest index that is already
//     shared and still has room is preferred, else the lowest free index, so
//     fractional leases pack together and leave whole GPUs free.
// An index is therefore free, held whole by exactly one lease, or shared by
// fractional leases only; it comes back when every lease on it is released.
// Because of that packing, an index can be missing while the GPU *count*
// still fits (two 0.6 requests on two GPUs leave 0.8 free but no index with
// 0.8 room), so callers ask CanAllocate as well as NodeResources::Fits.
//
// A plain value: no threading rules, no I/O; misuse (releasing what was not
// allocated) is a CHECK failure.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "raylet/resource_set.h"

namespace lumen::raylet {

inline constexpr char kGpuResource[] = "GPU";

class GpuIndexPool {
 public:
  // A pool of `num_gpus` free indices, 0..num_gpus-1.
  explicit GpuIndexPool(int num_gpus = 0);
  // The node's whole GPUs: total "GPU" rounded down.
  static GpuIndexPool ForTotal(const ResourceSet& total);

  int size() const { return static_cast<int>(used_.size()); }
  // Indices nobody holds, not even a fraction of.
  int NumFree() const;

  // Whether a request for `units` of GPU could be placed on the empty pool.
  bool IsFeasible(int64_t units) const;
  // Whether Allocate(units) would succeed now. Always true for units <= 0.
  bool CanAllocate(int64_t units) const;
  // Reserves indices for a request of `units` (see the rule above); an
  // empty vector for units <= 0, nullopt when they are not available now.
  std::optional<std::vector<int>> Allocate(int64_t units);
  // Gives back what Allocate(units) returned as `ids`.
  void Release(const std::vector<int>& ids, int64_t units);

 private:
  static constexpr int64_t kWhole = ResourceSet::kUnitsPerWhole;

  // The index a fractional request of `units` would take, or -1.
  int PickShared(int64_t units) const;

  // Per index, the units held: 0 free, kWhole full (one whole lease, or
  // fractional ones that add up to 1).
  std::vector<int64_t> used_;
};

}  // namespace lumen::raylet
