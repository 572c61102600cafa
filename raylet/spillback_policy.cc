#include "raylet/spillback_policy.h"

#include <algorithm>

#include "common/id.h"

namespace lumen::raylet {
namespace {

bool FitsNow(const NodeView& node, const ResourceSet& shape) {
  return shape.IsSubsetOf(node.available);
}
bool CanEverRun(const NodeView& node, const ResourceSet& shape) {
  return shape.IsSubsetOf(node.total);
}

// The node, among `candidates` passing `keep`, picked at random among the
// kBestFew least utilized; null when none passes.
const NodeView* PickLeastUtilized(const std::vector<const NodeView*>& candidates,
                                  const ResourceSet& shape, uint64_t random,
                                  bool (*keep)(const NodeView&, const ResourceSet&)) {
  std::vector<std::pair<double, const NodeView*>> ranked;
  for (const NodeView* node : candidates) {
    if (keep(*node, shape)) ranked.push_back({Utilization(*node, shape), node});
  }
  if (ranked.empty()) return nullptr;
  std::stable_sort(ranked.begin(), ranked.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  const size_t few = std::min(kBestFew, ranked.size());
  return ranked[random % few].second;
}

Placement Local() { return Placement{Placement::kLocal, "", ""}; }
Placement SpillTo(const NodeView& node) { return Placement{Placement::kSpill, node.node_id, ""}; }

Placement PickDefault(const ResourceSet& shape, const NodeView& local,
                      const std::vector<NodeView>& others, uint64_t random) {
  if (FitsNow(local, shape)) return Local();
  std::vector<const NodeView*> remote;
  for (const NodeView& node : others) remote.push_back(&node);
  if (const NodeView* best = PickLeastUtilized(remote, shape, random, FitsNow)) return SpillTo(*best);
  if (CanEverRun(local, shape)) return Local();
  if (const NodeView* best = PickLeastUtilized(remote, shape, random, CanEverRun)) {
    return SpillTo(*best);
  }
  return Placement{Placement::kInfeasible, "", ""};
}

Placement PickSpread(const ResourceSet& shape, const NodeView& local,
                     const std::vector<NodeView>& others, uint64_t random) {
  std::vector<const NodeView*> all{&local};
  for (const NodeView& node : others) all.push_back(&node);
  if (const NodeView* best = PickLeastUtilized(all, shape, random, FitsNow)) {
    return best == &local ? Local() : SpillTo(*best);
  }
  return PickDefault(shape, local, others, random);
}

Placement PickAffinity(const PlacementRequest& request, const NodeView& local,
                       const std::vector<NodeView>& others, uint64_t random) {
  const std::string& target = request.strategy.node_id();
  const NodeView* node = target == local.node_id ? &local : nullptr;
  for (const NodeView& other : others) {
    if (other.node_id == target) node = &other;
  }
  if (node != nullptr && CanEverRun(*node, request.shape)) {
    return node == &local ? Local() : SpillTo(*node);
  }
  if (request.strategy.soft()) return PickDefault(request.shape, local, others, random);
  const std::string hex = NodeId::FromBinaryOrNil(target).Hex();
  return Placement{Placement::kReject, "",
                   node == nullptr
                       ? "node affinity: node " + hex + " is not an alive node of the cluster"
                       : "node affinity: node " + hex + " can never provide " +
                             request.shape.DebugString()};
}

}  // namespace

double Utilization(const NodeView& node, const ResourceSet& shape) {
  double worst = 0;
  auto consider = [&](const std::string& name) {
    const double total = node.total.Get(name);
    if (total <= 0) return;
    const double used = 1.0 - std::max(0.0, node.available.Get(name)) / total;
    worst = std::max(worst, std::clamp(used, 0.0, 1.0));
  };
  const auto wanted = shape.ToMap();
  if (wanted.empty()) consider("CPU");
  for (const auto& [name, amount] : wanted) consider(name);
  return worst;
}

Placement PickPlacement(const PlacementRequest& request, const NodeView& local,
                        const std::vector<NodeView>& others, uint64_t random) {
  if (request.strategy.kind() == rpc::SchedulingStrategy::NODE_AFFINITY) {
    return PickAffinity(request, local, others, random);
  }
  if (request.grant_or_reject && CanEverRun(local, request.shape)) return Local();
  if (request.strategy.kind() == rpc::SchedulingStrategy::SPREAD) {
    return PickSpread(request.shape, local, others, random);
  }
  return PickDefault(request.shape, local, others, random);
}

}  // namespace lumen::raylet
