// Unit tests of BundleBook: the two phases of a bundle reservation on one
// node over a real LeaseManager and WorkerPool (fake launcher).
#include "raylet/bundle_book.h"

#include <catch2/catch.hpp>
#include <optional>

#include "raylet/raylet_test_util.h"

using namespace lumen;
using namespace lumen::raylet;

namespace {

ResourceSet Res(std::map<std::string, double> m) { return ResourceSet::FromMap(m); }

struct Fixture : testing::PoolFixture {
  explicit Fixture(std::map<std::string, double> total = {{"CPU", 2}}, int workers = 1)
      : PoolFixture(workers), leases(*pool, Res(total)), book(leases) {
    AddJob(job, driver, driver_pid);
  }
  std::shared_ptr<std::optional<LeaseReply>> Request(std::map<std::string, double> shape) {
    auto slot = std::make_shared<std::optional<LeaseReply>>();
    LeaseRequest request;
    request.job = job;
    request.resources = Res(shape);
    request.function_name = "Work";
    request.reply = [slot](const LeaseReply& reply) { *slot = reply; };
    leases.RequestLease(std::move(request));
    return slot;
  }
  double Available(const std::string& name) const {
    return leases.resources().available().Get(name);
  }
  double Total(const std::string& name) const { return leases.resources().total().Get(name); }

  LeaseManager leases;
  BundleBook book;
};

}  // namespace

TEST_CASE("group resources name the bundle and the whole group") {
  ResourceSet group = GroupResources("ab12", 1, Res({{"CPU", 1}, {"GPU", 0.5}}));
  CHECK(group.Get("CPU_group_1_ab12") == 1);
  CHECK(group.Get("CPU_group_ab12") == 1);
  CHECK(group.Get("GPU_group_1_ab12") == 0.5);
  CHECK(group.Get("bundle_group_1_ab12") == kBundleMarker);
  CHECK(group.Get("bundle_group_ab12") == kBundleMarker);
  CHECK(group.Get("CPU") == 0);
}

TEST_CASE("prepare takes the shape, commit adds the group resources, cancel undoes both") {
  Fixture f;
  REQUIRE(f.book.Prepare("pg", 0, Res({{"CPU", 1}})));
  CHECK(f.Available("CPU") == 1);
  CHECK(f.Available("CPU_group_0_pg") == 0);
  REQUIRE(f.book.Commit("pg", 0).ok());
  CHECK(f.Available("CPU_group_0_pg") == 1);
  CHECK(f.Total("CPU_group_pg") == 1);
  CHECK(f.Total("CPU") == 2);  // The node's own total stays; only availability drops.
  f.book.Cancel("pg", 0);
  CHECK(f.Available("CPU") == 2);
  CHECK(f.Total("CPU_group_0_pg") == 0);
  CHECK(f.book.size() == 0);
}

TEST_CASE("prepare refuses a shape that does not fit now, and repeats are idempotent") {
  Fixture f;
  CHECK_FALSE(f.book.Prepare("pg", 0, Res({{"CPU", 3}})));
  CHECK(f.Available("CPU") == 2);
  REQUIRE(f.book.Prepare("pg", 0, Res({{"CPU", 2}})));
  CHECK(f.book.Prepare("pg", 0, Res({{"CPU", 2}})));  // Repeat: no second reservation.
  CHECK(f.Available("CPU") == 0);
  CHECK_FALSE(f.book.Prepare("pg", 1, Res({{"CPU", 1}})));
  CHECK(f.book.Commit("other", 0).code() == absl::StatusCode::kNotFound);
  f.book.Cancel("pg", 0);
  f.book.Cancel("pg", 0);  // Unknown now: nothing happens.
  CHECK(f.Available("CPU") == 2);
}

TEST_CASE("cancelling a committed bundle kills the worker leased from it") {
  Fixture f;
  f.RegisterStarted();
  REQUIRE(f.book.Prepare("pg", 0, Res({{"CPU", 1}})));
  REQUIRE(f.book.Commit("pg", 0).ok());
  auto reply = f.Request({{"CPU_group_0_pg", 1}, {"bundle_group_0_pg", 0.001}});
  REQUIRE(reply->has_value());
  REQUIRE((*reply)->granted);
  CHECK(f.leases.NumLeases() == 1);
  f.book.Cancel("pg", 0);
  CHECK(f.leases.NumLeases() == 0);
  CHECK(f.Available("CPU") == 2);
  CHECK(f.Total("bundle_group_0_pg") == 0);
}

TEST_CASE("a lease in a GPU bundle gets GPU indices among the bundle's, for CUDA_VISIBLE_DEVICES") {
  Fixture f({{"CPU", 4}, {"GPU", 3}}, 3);
  f.RegisterStarted();
  // Bundle 0 takes GPU 0 of the node; bundle 1 (two GPUs) takes 1 and 2.
  REQUIRE(f.book.Prepare("pg", 0, Res({{"CPU", 1}, {"GPU", 1}})));
  REQUIRE(f.book.Prepare("pg", 1, Res({{"CPU", 1}, {"GPU", 2}})));
  CHECK(f.leases.gpus().NumFree() == 0);
  REQUIRE(f.book.Commit("pg", 0).ok());
  REQUIRE(f.book.Commit("pg", 1).ok());
  auto in_one = f.Request({{"GPU_group_1_pg", 1}, {"bundle_group_1_pg", 0.001}});
  REQUIRE(in_one->has_value());
  REQUIRE((*in_one)->granted);
  CHECK((*in_one)->gpu_ids == std::vector<int>{1});
  auto in_zero = f.Request({{"GPU_group_0_pg", 1}, {"bundle_group_0_pg", 0.001}});
  REQUIRE(in_zero->has_value());
  CHECK((*in_zero)->gpu_ids == std::vector<int>{0});
  // Any bundle of the group: the one with a free index left, bundle 1's GPU 2.
  auto any = f.Request({{"GPU_group_pg", 1}, {"bundle_group_pg", 0.001}});
  REQUIRE(any->has_value());
  CHECK((*any)->gpu_ids == std::vector<int>{2});
  // Cancelling the bundles kills their leases and gives the indices back.
  f.book.Cancel("pg", 0);
  f.book.Cancel("pg", 1);
  CHECK(f.leases.NumLeases() == 0);
  CHECK(f.leases.gpus().NumFree() == 3);
}
