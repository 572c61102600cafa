// Unit tests of ResourceSet / NodeResources: fixed-point quantities, fit
// checks, acquire/release.
#include "raylet/resource_set.h"

#include <catch2/catch.hpp>

using lumen::raylet::NodeResources;
using lumen::raylet::ResourceSet;

namespace {
ResourceSet Set(std::map<std::string, double> m) { return ResourceSet::FromMap(m); }
}  // namespace

TEST_CASE("IsSubsetOf compares every requested quantity") {
  struct Case {
    std::map<std::string, double> request, available;
    bool fits;
  };
  std::vector<Case> cases = {
      {{}, {}, true},
      {{{"CPU", 1}}, {{"CPU", 1}}, true},
      {{{"CPU", 1.5}}, {{"CPU", 1}}, false},
      {{{"CPU", 0.5}, {"GPU", 1}}, {{"CPU", 4}}, false},
      {{{"CPU", 0}}, {}, true},  // Zero asks for nothing.
      {{{"custom", 0.0001}}, {{"custom", 0.0001}}, true},
      {{{"node:1.2.3.4", 0.001}}, {{"node:1.2.3.4", 1}, {"CPU", 2}}, true},
  };
  for (const auto& c : cases) {
    CAPTURE(Set(c.request).DebugString(), Set(c.available).DebugString());
    CHECK(Set(c.request).IsSubsetOf(Set(c.available)) == c.fits);
  }
}

TEST_CASE("fractional quantities do not drift over many acquire/release rounds") {
  NodeResources node(Set({{"CPU", 1}}));
  ResourceSet tenth = Set({{"CPU", 0.1}});
  for (int round = 0; round < 1000; ++round) {
    for (int i = 0; i < 10; ++i) {
      REQUIRE(node.Fits(tenth));
      node.Acquire(tenth);
    }
    CHECK_FALSE(node.Fits(tenth));
    for (int i = 0; i < 10; ++i) node.Release(tenth);
  }
  CHECK(node.available() == node.total());
}

TEST_CASE("feasibility is judged against the total, fit against what is free") {
  NodeResources node(Set({{"CPU", 2}, {"GPU", 1}}));
  node.Acquire(Set({{"CPU", 2}}));
  CHECK(node.IsFeasible(Set({{"CPU", 1}})));
  CHECK_FALSE(node.Fits(Set({{"CPU", 1}})));
  CHECK_FALSE(node.IsFeasible(Set({{"CPU", 3}})));
  CHECK_FALSE(node.IsFeasible(Set({{"TPU", 1}})));
}

TEST_CASE("subtract may go negative and add brings it back") {
  ResourceSet set = Set({{"CPU", 1}});
  set.Subtract(Set({{"CPU", 2}}));
  CHECK(set.Get("CPU") == Approx(-1));
  CHECK_FALSE(Set({{"CPU", 0.5}}).IsSubsetOf(set));
  set.Add(Set({{"CPU", 2}}));
  CHECK(set == Set({{"CPU", 1}}));
}

TEST_CASE("DebugString is sorted and stable") {
  CHECK(Set({{"b", 2}, {"a", 0.5}}).DebugString() == "{a: 0.5, b: 2}");
  CHECK(ResourceSet().DebugString() == "{}");
  CHECK(Set({{"CPU", 0}}).IsEmpty());
}
