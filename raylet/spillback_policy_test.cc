// Table tests of the spillback policy (docs/scheduling.md): pure function
// over resource views, no processes.
#include "raylet/spillback_policy.h"

#include <catch2/catch.hpp>
#include <map>
#include <set>

using namespace lumen::raylet;
using lumen::rpc::SchedulingStrategy;

namespace {

ResourceSet Set(std::map<std::string, double> amounts) { return ResourceSet::FromMap(amounts); }

NodeView Node(const std::string& id, std::map<std::string, double> total,
              std::map<std::string, double> available) {
  return NodeView{id, Set(std::move(total)), Set(std::move(available))};
}

PlacementRequest Shape(std::map<std::string, double> shape) {
  PlacementRequest request;
  request.shape = Set(std::move(shape));
  return request;
}

std::string Describe(const Placement& p) {
  switch (p.kind) {
    case Placement::kLocal: return "local";
    case Placement::kSpill: return "spill:" + p.node_id;
    case Placement::kInfeasible: return "infeasible";
    case Placement::kReject: return "reject";
  }
  return "?";
}

}  // namespace

TEST_CASE("DEFAULT: here until busy, then the least utilized node with room") {
  const NodeView idle_here = Node("A", {{"CPU", 2}}, {{"CPU", 2}});
  const NodeView busy_here = Node("A", {{"CPU", 2}}, {});
  const NodeView half = Node("B", {{"CPU", 4}}, {{"CPU", 2}});
  const NodeView idle = Node("C", {{"CPU", 4}}, {{"CPU", 4}});
  const NodeView full = Node("D", {{"CPU", 4}}, {});
  struct Case {
    std::string name;
    NodeView local;
    std::vector<NodeView> others;
    std::string expected;
  };
  std::vector<Case> cases = {
      {"room here", idle_here, {idle}, "local"},
      {"busy here, one idle node", busy_here, {full, idle}, "spill:C"},
      {"busy everywhere: wait here", busy_here, {full}, "local"},
      {"alone and busy: wait here", busy_here, {}, "local"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(Describe(PickPlacement(Shape({{"CPU", 1}}), c.local, c.others, 0)) == c.expected);
  }
  // Among the best few the random number chooses; the least utilized first.
  std::vector<NodeView> others = {full, half, idle};
  CHECK(Describe(PickPlacement(Shape({{"CPU", 1}}), busy_here, others, 0)) == "spill:C");
  CHECK(Describe(PickPlacement(Shape({{"CPU", 1}}), busy_here, others, 1)) == "spill:B");
}

TEST_CASE("spills are spread at random among the best few nodes") {
  const NodeView busy_here = Node("A", {{"CPU", 1}}, {});
  std::vector<NodeView> others;
  for (char id = 'B'; id <= 'H'; ++id) {
    others.push_back(Node(std::string(1, id), {{"CPU", 8}}, {{"CPU", id <= 'D' ? 8.0 : 1.0}}));
  }
  std::set<std::string> picked;
  for (uint64_t r = 0; r < 30; ++r) {
    picked.insert(Describe(PickPlacement(Shape({{"CPU", 1}}), busy_here, others, r)));
  }
  CHECK(picked == std::set<std::string>{"spill:B", "spill:C", "spill:D"});
}

TEST_CASE("a resource only one node has sends the request there") {
  const NodeView here = Node("A", {{"CPU", 4}}, {{"CPU", 4}});
  std::vector<NodeView> others = {Node("B", {{"CPU", 4}}, {{"CPU", 4}}),
                                  Node("C", {{"CPU", 4}, {"gadget", 1}}, {{"CPU", 4}})};
  // Used right now on C: still the only node that can ever run it.
  CHECK(Describe(PickPlacement(Shape({{"gadget", 1}}), here, others, 7)) == "spill:C");
  others[1].available.Set("gadget", 1);
  CHECK(Describe(PickPlacement(Shape({{"gadget", 1}}), here, others, 7)) == "spill:C");
  CHECK(Describe(PickPlacement(Shape({{"node:10.0.0.3", 0.01}}), here, others, 7)) == "infeasible");
}

TEST_CASE("no node can ever run it: infeasible, decided again when nodes change") {
  const NodeView here = Node("A", {{"CPU", 2}}, {{"CPU", 2}});
  std::vector<NodeView> others = {Node("B", {{"CPU", 2}}, {{"CPU", 2}})};
  CHECK(PickPlacement(Shape({{"CPU", 3}}), here, others, 0).kind == Placement::kInfeasible);
  others.push_back(Node("C", {{"CPU", 8}}, {{"CPU", 8}}));
  CHECK(Describe(PickPlacement(Shape({{"CPU", 3}}), here, others, 0)) == "spill:C");
}

TEST_CASE("a spilled request stays where it was sent unless it can never run there") {
  const NodeView busy_here = Node("B", {{"CPU", 2}}, {});
  std::vector<NodeView> others = {Node("C", {{"CPU", 2}}, {{"CPU", 2}}),
                                  Node("D", {{"CPU", 2}, {"gadget", 1}}, {{"CPU", 2}, {"gadget", 1}})};
  PlacementRequest spilled = Shape({{"CPU", 1}});
  spilled.grant_or_reject = true;
  CHECK(Describe(PickPlacement(spilled, busy_here, others, 0)) == "local");
  PlacementRequest wrong_node = Shape({{"gadget", 1}});
  wrong_node.grant_or_reject = true;
  CHECK(Describe(PickPlacement(wrong_node, busy_here, others, 0)) == "spill:D");
}

TEST_CASE("SPREAD picks the least utilized node, this one included") {
  PlacementRequest spread = Shape({{"CPU", 1}});
  spread.strategy.set_kind(SchedulingStrategy::SPREAD);
  const NodeView half_here = Node("A", {{"CPU", 4}}, {{"CPU", 2}});
  std::vector<NodeView> others = {Node("B", {{"CPU", 4}}, {{"CPU", 4}})};
  // With one candidate better than the other, the best few hold both:
  // both are picked for some random numbers, and the idle one for 0.
  CHECK(Describe(PickPlacement(spread, half_here, others, 0)) == "spill:B");
  CHECK(Describe(PickPlacement(spread, half_here, others, 1)) == "local");
  const NodeView idle_here = Node("A", {{"CPU", 4}}, {{"CPU", 4}});
  others[0].available = Set({});
  CHECK(Describe(PickPlacement(spread, idle_here, others, 1)) == "local");
}

TEST_CASE("node affinity: hard goes there or is refused, soft falls back") {
  const NodeView here = Node("A", {{"CPU", 2}}, {});
  std::vector<NodeView> others = {Node("B", {{"CPU", 2}}, {}), Node("C", {{"CPU", 2}}, {{"CPU", 2}})};
  PlacementRequest affinity = Shape({{"CPU", 1}});
  affinity.strategy.set_kind(SchedulingStrategy::NODE_AFFINITY);
  affinity.strategy.set_node_id("B");
  CHECK(Describe(PickPlacement(affinity, here, others, 0)) == "spill:B");  // Busy: waits there.
  affinity.strategy.set_node_id("A");
  CHECK(Describe(PickPlacement(affinity, here, others, 0)) == "local");
  affinity.strategy.set_node_id("Z");  // Dead or unknown.
  Placement refused = PickPlacement(affinity, here, others, 0);
  CHECK(refused.kind == Placement::kReject);
  CHECK(refused.error.find("not an alive node") != std::string::npos);
  affinity.strategy.set_soft(true);
  CHECK(Describe(PickPlacement(affinity, here, others, 0)) == "spill:C");
  affinity.shape = Set({{"CPU", 3}});  // B can never: soft falls back, and nobody can.
  affinity.strategy.set_node_id("B");
  CHECK(PickPlacement(affinity, here, others, 0).kind == Placement::kInfeasible);
  affinity.strategy.set_soft(false);
  CHECK(PickPlacement(affinity, here, others, 0).error.find("can never provide") != std::string::npos);
}

TEST_CASE("utilization is the most used resource the shape asks for") {
  const NodeView node = Node("A", {{"CPU", 4}, {"GPU", 2}}, {{"CPU", 1}, {"GPU", 2}});
  CHECK(Utilization(node, Set({{"CPU", 1}})) == Approx(0.75));
  CHECK(Utilization(node, Set({{"GPU", 1}})) == Approx(0.0));
  CHECK(Utilization(node, Set({{"GPU", 1}, {"CPU", 1}})) == Approx(0.75));
  CHECK(Utilization(node, Set({})) == Approx(0.75));  // CPU when it asks for none.
}
