// Unit tests of GpuIndexPool: which indices a GPU request gets, table-driven
// over sequences of allocations and releases.
#include "raylet/gpu_index_pool.h"

#include <catch2/catch.hpp>
#include <optional>
#include <string>
#include <vector>

using lumen::raylet::GpuIndexPool;
using lumen::raylet::ResourceSet;

namespace {

int64_t Units(double gpus) { return static_cast<int64_t>(gpus * ResourceSet::kUnitsPerWhole); }

// One step: allocate `gpus` (expecting `ids`, or nullopt for "not now"), or
// release the allocation made at step `release_step`.
struct Step {
  double gpus = 0;
  std::optional<std::vector<int>> ids;
  int release_step = -1;
};
Step Take(double gpus, std::optional<std::vector<int>> ids) { return Step{gpus, ids, -1}; }
Step Give(int step) { return Step{0, std::nullopt, step}; }

}  // namespace

TEST_CASE("GPU indices are handed out by the documented rule") {
  struct Case {
    std::string name;
    int num_gpus;
    std::vector<Step> steps;
    int free_at_end;
  };
  std::vector<Case> cases = {
      {"no GPU asked, none given", 2, {Take(0, std::vector<int>{})}, 2},
      {"two whole leases get 0 then 1", 2, {Take(1, {{0}}), Take(1, {{1}})}, 0},
      {"a third waits, then gets the freed index",
       2,
       {Take(1, {{0}}), Take(1, {{1}}), Take(1, std::nullopt), Give(0), Take(1, {{0}})},
       0},
      {"a 2-GPU lease gets two distinct indices", 4, {Take(1, {{0}}), Take(2, {{1, 2}})}, 1},
      {"lowest free first, around holes",
       4,
       {Take(1, {{0}}), Take(1, {{1}}), Take(1, {{2}}), Give(1), Take(2, {{1, 3}})},
       0},
      {"1.5 GPU reserves two whole indices", 2, {Take(1.5, {{0, 1}}), Take(0.5, std::nullopt)}, 0},
      {"more than the node has never fits", 2, {Take(3, std::nullopt)}, 2},
      {"fractions share one index up to 1",
       2,
       {Take(0.5, {{0}}), Take(0.5, {{0}}), Take(0.5, {{1}})},
       0},
      {"fractions pack onto a shared index before a free one",
       3,
       {Take(1, {{0}}), Take(0.25, {{1}}), Take(0.5, {{1}}), Take(0.5, {{2}}), Take(0.25, {{1}})},
       0},
      {"a whole lease never lands on a shared index",
       2,
       {Take(0.5, {{0}}), Take(1, {{1}}), Take(1, std::nullopt), Give(0), Take(1, {{0}})},
       0},
      {"count fits but no index has room",
       2,
       {Take(0.6, {{0}}), Take(0.6, {{1}}), Take(0.8, std::nullopt), Take(0.4, {{0}})},
       0},
      {"a shared index frees only when all its leases end",
       1,
       {Take(0.5, {{0}}), Take(0.5, {{0}}), Give(0), Take(1, std::nullopt), Give(1),
        Take(1, {{0}})},
       0},
      {"no GPUs at all", 0, {Take(1, std::nullopt), Take(0.5, std::nullopt)}, 0},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    GpuIndexPool pool(c.num_gpus);
    std::vector<std::optional<std::vector<int>>> got;
    for (size_t i = 0; i < c.steps.size(); ++i) {
      CAPTURE(i);
      const Step& step = c.steps[i];
      if (step.release_step >= 0) {
        const Step& taken = c.steps[step.release_step];
        pool.Release(*got[step.release_step], Units(taken.gpus));
        got.push_back(std::nullopt);
        continue;
      }
      CHECK(pool.CanAllocate(Units(step.gpus)) == step.ids.has_value());
      got.push_back(pool.Allocate(Units(step.gpus)));
      CHECK(got.back() == step.ids);
    }
    CHECK(pool.NumFree() == c.free_at_end);
  }
}

TEST_CASE("feasibility is about the node's whole GPUs") {
  struct Case {
    double total, request;
    bool feasible;
  };
  // The last case: 1.5 GPUs make one index, too few for 1.5 GPU.
  std::vector<Case> cases = {
      {2, 2, true}, {2, 1.5, true},  {2, 2.5, false},   {2, 0.5, true},
      {0, 0, true}, {0, 0.5, false}, {1.5, 1.5, false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.total, c.request);
    auto total = ResourceSet::FromMap(std::map<std::string, double>{{"GPU", c.total}});
    GpuIndexPool pool = GpuIndexPool::ForTotal(total);
    CHECK(pool.IsFeasible(Units(c.request)) == c.feasible);
  }
}

TEST_CASE("releasing everything gives every index back") {
  GpuIndexPool pool(4);
  std::vector<std::pair<std::vector<int>, int64_t>> held;
  for (double g : {0.3, 1.0, 0.7, 2.0}) {
    auto ids = pool.Allocate(Units(g));
    REQUIRE(ids.has_value());
    held.push_back({*ids, Units(g)});
  }
  CHECK(pool.NumFree() == 0);
  for (const auto& [ids, units] : held) pool.Release(ids, units);
  CHECK(pool.NumFree() == 4);
  CHECK(pool.Allocate(Units(4)) == std::vector<int>{0, 1, 2, 3});
}
