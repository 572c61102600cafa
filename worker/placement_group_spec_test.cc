// Unit tests of the placement group rewrite of a TaskSpec's resources
// (worker/placement_group_spec.h) and of the API's bundle index check
// (include/ray/api/placement_group.h).
#include "worker/placement_group_spec.h"

#include <catch2/catch.hpp>

#include "ray/api/placement_group.h"
#include "ray/api/runtime.h"

using namespace lumen;

namespace {
constexpr char kGroup[] = "00112233445566778899AABBCCDDEEFF";  // Upper case: normalized.
constexpr char kHex[] = "00112233445566778899aabbccddeeff";
}  // namespace

TEST_CASE("a task in bundle i asks for the bundle's resources and marker instead of the node's") {
  rpc::TaskSpec spec;
  (*spec.mutable_required_resources())["CPU"] = 1;
  (*spec.mutable_required_resources())["GPU"] = 0.5;
  ray::internal::TaskOptions options;
  options.placement_group_id = kGroup;
  options.placement_group_bundle_index = 2;
  worker::SetPlacementGroup(options, &spec);
  const auto& r = spec.required_resources();
  CHECK(r.size() == 3);
  CHECK(r.at(std::string("CPU_group_2_") + kHex) == 1);
  CHECK(r.at(std::string("GPU_group_2_") + kHex) == 0.5);
  CHECK(r.at(std::string("bundle_group_2_") + kHex) == worker::kBundleMarkerRequest);
  CHECK(spec.placement_group_id().size() == 16);
  CHECK(spec.placement_group_bundle_index() == 2);
}

TEST_CASE("any bundle (-1) uses the group-wide names; a zero-resource actor gets the marker only") {
  rpc::TaskSpec spec;
  ray::internal::ActorOptions options;
  options.placement_group_id = kHex;
  worker::SetPlacementGroup(options, &spec);
  CHECK(spec.required_resources().size() == 1);
  CHECK(spec.required_resources().at(std::string("bundle_group_") + kHex) > 0);
}

TEST_CASE("no group leaves the spec alone; a malformed id is refused") {
  rpc::TaskSpec spec;
  (*spec.mutable_required_resources())["CPU"] = 1;
  ray::internal::TaskOptions options;
  worker::SetPlacementGroup(options, &spec);
  CHECK(spec.required_resources().at("CPU") == 1);
  CHECK(spec.placement_group_id().empty());
  options.placement_group_id = "not hex!";
  CHECK_THROWS_AS(worker::SetPlacementGroup(options, &spec), std::invalid_argument);
}

TEST_CASE("SetPlacementGroup refuses an empty group and a bundle index out of range") {
  ray::PlacementGroup group(kHex, {"g", {{{"CPU", 1}}, {{"CPU", 1}}}, ray::PlacementStrategy::PACK});
  CHECK_NOTHROW(ray::internal::CheckBundleIndex(group, -1));
  CHECK_NOTHROW(ray::internal::CheckBundleIndex(group, 1));
  CHECK_THROWS_AS(ray::internal::CheckBundleIndex(group, 2), std::invalid_argument);
  CHECK_THROWS_AS(ray::internal::CheckBundleIndex(group, -2), std::invalid_argument);
  CHECK_THROWS_AS(ray::internal::CheckBundleIndex(ray::PlacementGroup(), -1), std::invalid_argument);
}
