#include "gcs/resource_manager.h"

#include <catch2/catch.hpp>

#include "gcs/test_util.h"

using namespace lumen;
using namespace lumen::gcs;
using lumen::gcs::testing::MakeNode;

TEST_CASE("a registered node starts with everything available; reports replace it") {
  ResourceManager resources;
  auto node = MakeNode(7000, 8);
  resources.OnNodeChange(node);
  const rpc::ResourceView* view = resources.Find(node.node_id());
  REQUIRE(view != nullptr);
  CHECK(view->total().at("CPU") == 8);
  CHECK(view->available().at("CPU") == 8);

  rpc::ResourceView report;
  report.set_node_id(node.node_id());
  (*report.mutable_total())["CPU"] = 8;
  (*report.mutable_available())["CPU"] = 3;
  CHECK(resources.Report(report));
  CHECK(resources.Find(node.node_id())->available().at("CPU") == 3);
  CHECK(resources.GetAll().size() == 1);
}

TEST_CASE("reports from unknown or dead nodes are refused") {
  ResourceManager resources;
  auto node = MakeNode();
  rpc::ResourceView report;
  report.set_node_id(node.node_id());
  CHECK_FALSE(resources.Report(report));  // Unknown (e.g. after a GCS restart).
  resources.OnNodeChange(node);
  node.set_state(rpc::NodeInfo::DEAD);
  resources.OnNodeChange(node);
  CHECK_FALSE(resources.Report(report));
  CHECK(resources.GetAll().empty());
}
