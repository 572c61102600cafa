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

namespace {

rpc::ResourceView Report(const rpc::NodeInfo& node, double cpu_total, double cpu_available) {
  rpc::ResourceView report;
  report.set_node_id(node.node_id());
  (*report.mutable_total())["CPU"] = cpu_total;
  (*report.mutable_available())["CPU"] = cpu_available;
  return report;
}

// Polls at once (deadline now): the reply as it stands.
rpc::GetClusterResourcesReply PollNow(ResourceManager& resources, int64_t after, uint64_t epoch) {
  rpc::GetClusterResourcesReply out;
  CHECK_FALSE(resources.Poll(after, epoch, 0, 0, [&](rpc::GetClusterResourcesReply r) { out = std::move(r); }));
  return out;
}

}  // namespace

TEST_CASE("a poll after a version gets only the views changed since, and the nodes gone") {
  ResourceManager resources;
  auto a = MakeNode(7000, 8), b = MakeNode(7001, 8), c = MakeNode(7002, 8);
  resources.OnNodeChange(a);
  resources.OnNodeChange(b);
  resources.OnNodeChange(c);
  auto first = PollNow(resources, 0, 0);
  CHECK(first.full());
  CHECK(first.views_size() == 3);
  CHECK(first.epoch() == resources.epoch());
  const int64_t v = first.version();

  // Nothing changed: an empty delta (a deadline already passed answers).
  auto idle = PollNow(resources, v, first.epoch());
  CHECK_FALSE(idle.full());
  CHECK(idle.views_size() == 0);
  CHECK(idle.removed_size() == 0);
  CHECK(idle.version() == v);

  // A report with the same content is a heartbeat, not a change.
  CHECK(resources.Report(Report(b, 8, 8)));
  CHECK(resources.version() == v);
  // One node's availability changes, another node dies.
  CHECK(resources.Report(Report(b, 8, 5)));
  c.set_state(rpc::NodeInfo::DEAD);
  resources.OnNodeChange(c);
  auto delta = PollNow(resources, v, first.epoch());
  CHECK_FALSE(delta.full());
  REQUIRE(delta.views_size() == 1);
  CHECK(delta.views(0).node_id() == b.node_id());
  CHECK(delta.views(0).available().at("CPU") == 5);
  REQUIRE(delta.removed_size() == 1);
  CHECK(delta.removed(0) == c.node_id());
  // The same node changing twice travels once, with its latest view.
  CHECK(resources.Report(Report(b, 8, 4)));
  CHECK(resources.Report(Report(b, 8, 3)));
  auto twice = PollNow(resources, delta.version(), first.epoch());
  REQUIRE(twice.views_size() == 1);
  CHECK(twice.views(0).available().at("CPU") == 3);
  CHECK(twice.removed_size() == 0);
}

TEST_CASE("a poll with nothing new waits for the next change, or its deadline") {
  ResourceManager resources;
  auto a = MakeNode(7000, 8);
  resources.OnNodeChange(a);
  auto first = PollNow(resources, 0, 0);
  std::vector<rpc::GetClusterResourcesReply> got;
  auto collect = [&](rpc::GetClusterResourcesReply r) { got.push_back(std::move(r)); };
  CHECK(resources.Poll(first.version(), first.epoch(), /*deadline=*/1000, /*now=*/0, collect));
  CHECK(resources.Poll(first.version(), first.epoch(), /*deadline=*/5000, /*now=*/0, collect));
  CHECK(resources.num_waiters() == 2);
  resources.ExpireWaiters(1000);  // The first one's deadline.
  REQUIRE(got.size() == 1);
  CHECK(got[0].views_size() == 0);
  CHECK(resources.Report(Report(a, 8, 1)));  // Answers the second at once.
  REQUIRE(got.size() == 2);
  REQUIRE(got[1].views_size() == 1);
  CHECK(got[1].views(0).available().at("CPU") == 1);
  CHECK(resources.num_waiters() == 0);
  // Closed (shutdown): waiters and later polls are answered at once.
  CHECK(resources.Poll(got[1].version(), got[1].epoch(), 5000, 0, collect));
  resources.Close();
  CHECK(got.size() == 3);
  CHECK_FALSE(resources.Poll(got[1].version(), got[1].epoch(), 5000, 0, collect));
}

TEST_CASE("a poller from another GCS (epoch) or too far behind the removals gets everything") {
  ResourceManager resources;
  auto a = MakeNode(7000, 8);
  resources.OnNodeChange(a);
  auto first = PollNow(resources, 0, 0);
  // A GCS restarted: its versions mean nothing to this one.
  auto other = PollNow(resources, first.version(), first.epoch() + 1);
  CHECK(other.full());
  CHECK(other.views_size() == 1);
  // A version ahead of this GCS: everything.
  CHECK(PollNow(resources, first.version() + 100, first.epoch()).full());
  // More removals than are kept since the caller's version: everything.
  for (size_t i = 0; i < ResourceManager::kMaxRemoved + 1; ++i) {
    auto n = MakeNode(static_cast<int>(8000 + i), 1);
    resources.OnNodeChange(n);
    n.set_state(rpc::NodeInfo::DEAD);
    resources.OnNodeChange(n);
  }
  auto behind = PollNow(resources, first.version(), first.epoch());
  CHECK(behind.full());
  CHECK(behind.views_size() == 1);
  CHECK(behind.removed_size() == 0);
}
