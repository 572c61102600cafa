// raylet/spillback_policy.h
//
// The spillback policy: where a lease request that reached this raylet
// should run, as a pure function of the request and the cluster's resource
// views (docs/scheduling.md). No I/O, no clock: randomness comes in as a
// number, so the policy is tested table-driven (spillback_policy_test.cc).
//
//   DEFAULT   here while this node has room for the shape (free resources
//             minus what its queued requests will take); else the least
//             utilized other node with room now, chosen at random among the
//             best few (kBestFew) so that raylets deciding on the same stale
//             view do not all pick one node; no node has room: here if this
//             node can ever run it, else the least utilized node that can.
//   SPREAD    the least utilized node (this one included) with room now,
//             random among the best few; none: as DEFAULT.
//   NODE_AFFINITY  that node when it is alive and can ever run the shape;
//             else hard: rejected with the reason, soft: as DEFAULT.
//   Spilled requests (grant_or_reject) stay here when this node can ever
//   run them: a lease never ping-pongs between raylets.
//   No node can ever run it: kInfeasible (the request waits here, and is
//   decided again when the view changes, e.g. a node joins).
// A node's utilization is the highest used share (1 - available/total)
// among the resources the shape asks for (CPU when it asks for none).
// Cost: O(nodes * resources of the shape) per decision.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "proto/common.pb.h"
#include "raylet/resource_set.h"

namespace lumen::raylet {

// How many of the least utilized candidates a spill picks among.
inline constexpr size_t kBestFew = 3;

// One node as the policy sees it; `available` of the local node already
// has its queued requests taken off.
struct NodeView {
  std::string node_id;  // Binary.
  ResourceSet total;
  ResourceSet available;
};

struct PlacementRequest {
  ResourceSet shape;
  rpc::SchedulingStrategy strategy;
  bool grant_or_reject = false;  // Spilled here once already.
};

struct Placement {
  enum Kind { kLocal, kSpill, kInfeasible, kReject };
  Kind kind = kLocal;
  std::string node_id;  // kSpill: where.
  std::string error;    // kReject: why.
};

// `local` is this node; `others` the other alive nodes; `random` any number
// (the caller draws it).
Placement PickPlacement(const PlacementRequest& request, const NodeView& local,
                        const std::vector<NodeView>& others, uint64_t random);

// The used share of `node` for `shape` (see the header comment), in [0, 1].
double Utilization(const NodeView& node, const ResourceSet& shape);

}  // namespace lumen::raylet
