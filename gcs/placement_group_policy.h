// gcs/placement_group_policy.h
//
// Where the bundles of a placement group go: a pure function of the
// bundles, the strategy and the nodes' available resources (docs/
// scheduling.md, "Placement groups"):
//   STRICT_PACK    every bundle on one node (the first, in `views` order,
//                  whose available resources fit their sum);
//   PACK           as few nodes as possible: each bundle goes to a node
//                  already chosen when it still fits there, else to the
//                  first node that fits it;
//   STRICT_SPREAD  every bundle on a different node;
//   SPREAD         a node not chosen yet when one fits, else the fitting
//                  node holding the fewest bundles of the group.
// Bundles are placed largest first (STRICT_SPREAD and SPREAD), so a big
// bundle is not left without a node by a small one taking it. Greedy: it
// can miss an assignment that exists (no backtracking); the group then
// waits and is tried again. Cost: O(bundles * nodes * resource names).
// Rescheduling after a node died places only the lost bundles: `placed`
// names the node of each bundle that kept its reservation ("" for those to
// place). Those stay where they are and count as the group's bundles on
// their nodes (STRICT_PACK: the rest must join them; STRICT_SPREAD: the
// rest avoid their nodes; PACK prefers them; SPREAD avoids them when it
// can); their resources are already off the nodes' available.
// No threading rules, no I/O.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proto/common.pb.h"

namespace lumen::gcs {

// The node id of each bundle (by index), or nullopt when they do not fit
// the nodes' available resources now.
std::optional<std::vector<std::string>> ChooseBundleNodes(
    rpc::PlacementGroupInfo::Strategy strategy,
    const std::vector<std::map<std::string, double>>& bundles,
    const std::vector<rpc::ResourceView>& views, const std::vector<std::string>& placed = {});

}  // namespace lumen::gcs
