// Unit tests of the placement group node choice (placement_group_policy.h)
// per strategy, and of PlacementGroupManager's two-phase reservation over
// a FakeBundleRpc driven by hand: all prepared -> commit -> CREATED; a
// refused prepare -> the others cancelled, PENDING, retried on Tick;
// removal cancels the bundles; a dead node sends the group back.
#include "gcs/placement_group_manager.h"

#include <catch2/catch.hpp>
#include <deque>
#include <set>

#include "gcs/placement_group_policy.h"
#include "gcs/store/in_memory_store_client.h"
#include "gcs/test_util.h"

using namespace lumen;
using namespace lumen::gcs;
using Strategy = rpc::PlacementGroupInfo;

namespace {

rpc::ResourceView View(const std::string& id, double cpus) {
  rpc::ResourceView view;
  view.set_node_id(id);
  (*view.mutable_total())["CPU"] = cpus;
  (*view.mutable_available())["CPU"] = cpus;
  return view;
}

std::vector<std::map<std::string, double>> CpuBundles(int n, double each = 1) {
  return std::vector<std::map<std::string, double>>(n, {{"CPU", each}});
}

std::set<std::string> Distinct(const std::vector<std::string>& nodes) {
  return std::set<std::string>(nodes.begin(), nodes.end());
}

class FakeBundleRpc : public BundleRpc {
 public:
  struct Call {
    std::string kind;  // "prepare", "commit", "cancel"
    std::string node_id;
    int index;
    PrepareDone prepare_done;
    Done done;
  };
  void Prepare(const rpc::NodeInfo& node, const rpc::BundleRequest& request,
               PrepareDone done) override {
    calls.push_back({"prepare", node.node_id(), request.bundle_index(), std::move(done), nullptr});
  }
  void Commit(const rpc::NodeInfo& node, const rpc::BundleRequest& request, Done done) override {
    calls.push_back({"commit", node.node_id(), request.bundle_index(), nullptr, std::move(done)});
  }
  void Cancel(const rpc::NodeInfo& node, const rpc::BundleRequest& request, Done done) override {
    cancelled.push_back(request.bundle_index());
    done(absl::OkStatus());
  }
  // Answers every pending call of `kind`; prepares with `prepared(index)`.
  int AnswerAll(const std::string& kind, const std::function<bool(int)>& prepared = nullptr) {
    int n = 0;
    std::deque<Call> rest;
    std::deque<Call> mine;
    for (auto& call : calls) (call.kind == kind ? mine : rest).push_back(std::move(call));
    calls = std::move(rest);
    for (auto& call : mine) {
      ++n;
      if (kind == "prepare") {
        call.prepare_done(absl::OkStatus(), prepared ? prepared(call.index) : true);
      } else {
        call.done(absl::OkStatus());
      }
    }
    return n;
  }
  std::deque<Call> calls;
  std::vector<int> cancelled;
};

struct Fixture {
  Fixture() : nodes(store, clock), manager(store, clock, nodes, resources, rpc) {
    nodes.AddListener([this](const rpc::NodeInfo& node) {
      resources.OnNodeChange(node);
      manager.OnNodeChange(node);
    });
  }
  std::string AddNode(double cpus) {
    rpc::NodeInfo node = testing::MakeNode(7000, cpus);
    REQUIRE(nodes.Register(node).ok());
    return node.node_id();
  }
  rpc::PlacementGroupInfo Group(int bundles, rpc::PlacementGroupInfo::Strategy strategy) {
    rpc::PlacementGroupInfo group;
    group.set_placement_group_id(std::string(16, static_cast<char>('a' + next_id++)));
    group.set_strategy(strategy);
    for (int i = 0; i < bundles; ++i) (*group.add_bundles()->mutable_resources())["CPU"] = 1;
    return group;
  }
  rpc::PlacementGroupInfo::State State(const std::string& id) {
    return manager.Find(id)->state();
  }

  InMemoryStoreClient store;
  FakeClock clock;
  NodeManager nodes;
  ResourceManager resources;
  FakeBundleRpc rpc;
  PlacementGroupManager manager;
  int next_id = 0;
};

}  // namespace

TEST_CASE("STRICT_SPREAD puts each bundle on its own node, or nowhere") {
  std::vector<rpc::ResourceView> views{View("a", 4), View("b", 4), View("c", 4)};
  auto three = ChooseBundleNodes(Strategy::STRICT_SPREAD, CpuBundles(3), views);
  REQUIRE(three.has_value());
  CHECK(Distinct(*three).size() == 3);
  CHECK_FALSE(ChooseBundleNodes(Strategy::STRICT_SPREAD, CpuBundles(4), views).has_value());
}

TEST_CASE("STRICT_PACK puts every bundle on one node that holds their sum") {
  std::vector<rpc::ResourceView> views{View("a", 2), View("b", 4)};
  auto packed = ChooseBundleNodes(Strategy::STRICT_PACK, CpuBundles(3), views);
  REQUIRE(packed.has_value());
  CHECK(*packed == std::vector<std::string>{"b", "b", "b"});
  CHECK_FALSE(ChooseBundleNodes(Strategy::STRICT_PACK, CpuBundles(5), views).has_value());
}

TEST_CASE("PACK uses as few nodes as it can, spilling over when one is full") {
  std::vector<rpc::ResourceView> views{View("a", 2), View("b", 4)};
  auto packed = ChooseBundleNodes(Strategy::PACK, CpuBundles(2), views);
  REQUIRE(packed.has_value());
  CHECK(Distinct(*packed).size() == 1);
  auto spilled = ChooseBundleNodes(Strategy::PACK, CpuBundles(5), views);
  REQUIRE(spilled.has_value());
  CHECK(Distinct(*spilled).size() == 2);
  CHECK_FALSE(ChooseBundleNodes(Strategy::PACK, CpuBundles(7), views).has_value());
}

TEST_CASE("SPREAD uses distinct nodes while it can, then shares them") {
  std::vector<rpc::ResourceView> views{View("a", 4), View("b", 4)};
  auto two = ChooseBundleNodes(Strategy::SPREAD, CpuBundles(2), views);
  REQUIRE(two.has_value());
  CHECK(Distinct(*two).size() == 2);
  auto four = ChooseBundleNodes(Strategy::SPREAD, CpuBundles(4), views);
  REQUIRE(four.has_value());
  CHECK(std::count(four->begin(), four->end(), "a") == 2);
}

TEST_CASE("a bundle bigger than every node fits nowhere") {
  std::vector<rpc::ResourceView> views{View("a", 1)};
  CHECK_FALSE(ChooseBundleNodes(Strategy::SPREAD, CpuBundles(1, 2), views).has_value());
  CHECK_FALSE(ChooseBundleNodes(Strategy::PACK, {{{"GPU", 1}}}, views).has_value());
}

TEST_CASE("all bundles prepared, then committed: the group is CREATED with its nodes") {
  Fixture f;
  f.AddNode(2);
  f.AddNode(2);
  rpc::PlacementGroupInfo group = f.Group(2, Strategy::STRICT_SPREAD);
  REQUIRE(f.manager.Create(group).ok());
  CHECK(f.State(group.placement_group_id()) == rpc::PlacementGroupInfo::PENDING);
  CHECK(f.rpc.AnswerAll("prepare") == 2);
  CHECK(f.State(group.placement_group_id()) == rpc::PlacementGroupInfo::PENDING);
  CHECK(f.rpc.AnswerAll("commit") == 2);
  const rpc::PlacementGroupInfo* created = f.manager.Find(group.placement_group_id());
  CHECK(created->state() == rpc::PlacementGroupInfo::CREATED);
  CHECK(created->bundles(0).node_id() != created->bundles(1).node_id());
  CHECK(f.rpc.cancelled.empty());
}

TEST_CASE("a refused prepare cancels the prepared bundles; the group waits and is tried again") {
  Fixture f;
  f.AddNode(2);
  f.AddNode(2);
  rpc::PlacementGroupInfo group = f.Group(2, Strategy::STRICT_SPREAD);
  REQUIRE(f.manager.Create(group).ok());
  CHECK(f.rpc.AnswerAll("prepare", [](int index) { return index == 0; }) == 2);
  CHECK(f.State(group.placement_group_id()) == rpc::PlacementGroupInfo::PENDING);
  CHECK(f.rpc.cancelled.size() == 2);  // Both: a cancel of an unprepared bundle is a no-op.
  CHECK(f.rpc.calls.empty());          // Nothing committed.
  f.manager.Tick();                    // Tried again.
  CHECK(f.rpc.AnswerAll("prepare") == 2);
  CHECK(f.rpc.AnswerAll("commit") == 2);
  CHECK(f.State(group.placement_group_id()) == rpc::PlacementGroupInfo::CREATED);
}

TEST_CASE("a group that cannot fit stays PENDING and is placed when a node joins") {
  Fixture f;
  f.AddNode(1);
  rpc::PlacementGroupInfo group = f.Group(2, Strategy::STRICT_SPREAD);
  REQUIRE(f.manager.Create(group).ok());
  CHECK(f.rpc.calls.empty());  // No node choice: nothing sent.
  f.manager.Tick();
  CHECK(f.rpc.calls.empty());
  f.AddNode(1);
  CHECK(f.rpc.AnswerAll("prepare") == 2);
  CHECK(f.rpc.AnswerAll("commit") == 2);
  CHECK(f.State(group.placement_group_id()) == rpc::PlacementGroupInfo::CREATED);
}

TEST_CASE("removal cancels every bundle; a removed group frees its name") {
  Fixture f;
  f.AddNode(2);
  rpc::PlacementGroupInfo group = f.Group(2, Strategy::PACK);
  group.set_name("g");
  REQUIRE(f.manager.Create(group).ok());
  f.rpc.AnswerAll("prepare");
  f.rpc.AnswerAll("commit");
  std::string removed_id;
  f.manager.set_on_removed([&](const std::string& id) { removed_id = id; });
  REQUIRE(f.manager.Remove(group.placement_group_id()).ok());
  CHECK(removed_id == group.placement_group_id());
  CHECK(f.rpc.cancelled.size() == 2);
  CHECK(f.State(group.placement_group_id()) == rpc::PlacementGroupInfo::REMOVED);
  CHECK(f.manager.FindByName("", "g") == nullptr);
  CHECK(f.manager.Remove("nope").code() == absl::StatusCode::kNotFound);
}

TEST_CASE("bad groups are refused with a clear error") {
  Fixture f;
  rpc::PlacementGroupInfo empty = f.Group(0, Strategy::PACK);
  CHECK(f.manager.Create(empty).code() == absl::StatusCode::kInvalidArgument);
  rpc::PlacementGroupInfo zero = f.Group(1, Strategy::PACK);
  (*zero.mutable_bundles(0)->mutable_resources())["CPU"] = 0;
  CHECK(f.manager.Create(zero).code() == absl::StatusCode::kInvalidArgument);
  rpc::PlacementGroupInfo short_id = f.Group(1, Strategy::PACK);
  short_id.set_placement_group_id("x");
  CHECK(f.manager.Create(short_id).code() == absl::StatusCode::kInvalidArgument);
  rpc::PlacementGroupInfo named = f.Group(1, Strategy::PACK);
  named.set_name("n");
  REQUIRE(f.manager.Create(named).ok());
  rpc::PlacementGroupInfo again = f.Group(1, Strategy::PACK);
  again.set_name("n");
  CHECK(f.manager.Create(again).code() == absl::StatusCode::kAlreadyExists);
}

TEST_CASE("a node holding bundles dies: only its bundles are placed again, the others stay") {
  Fixture f;
  std::string a = f.AddNode(1);
  std::string b = f.AddNode(1);
  rpc::PlacementGroupInfo group = f.Group(2, Strategy::SPREAD);
  REQUIRE(f.manager.Create(group).ok());
  f.rpc.AnswerAll("prepare");
  f.rpc.AnswerAll("commit");
  const std::string& id = group.placement_group_id();
  REQUIRE(f.State(id) == rpc::PlacementGroupInfo::CREATED);
  const int kept = f.manager.Find(id)->bundles(0).node_id() == b ? 0 : 1;
  // b's raylet reports its CPU taken by the bundle it holds.
  rpc::ResourceView busy = View(b, 1);
  (*busy.mutable_available())["CPU"] = 0;
  REQUIRE(f.resources.Report(busy));
  f.nodes.MarkDead(a, "test");
  CHECK(f.rpc.cancelled.empty());  // The surviving bundle keeps its reservation.
  CHECK(f.State(id) == rpc::PlacementGroupInfo::RESCHEDULING);
  CHECK(f.manager.Find(id)->bundles(kept).node_id() == b);
  CHECK(f.manager.Find(id)->bundles(1 - kept).node_id().empty());
  CHECK(f.rpc.calls.empty());  // No room anywhere: it waits.
  std::string c = f.AddNode(1);
  REQUIRE(f.rpc.calls.size() == 1);  // Only the lost bundle is prepared...
  CHECK(f.rpc.calls[0].index == 1 - kept);
  CHECK(f.rpc.calls[0].node_id == c);
  CHECK(f.rpc.AnswerAll("prepare") == 1);
  CHECK(f.rpc.AnswerAll("commit") == 1);  // ...and committed.
  CHECK(f.State(id) == rpc::PlacementGroupInfo::CREATED);
  CHECK(f.manager.Find(id)->bundles(kept).node_id() == b);
  CHECK(f.manager.Find(id)->bundles(1 - kept).node_id() == c);
  // Removal cancels both, the kept one included.
  REQUIRE(f.manager.Remove(id).ok());
  CHECK(f.rpc.cancelled.size() == 2);
}

TEST_CASE("removing a group being placed again cancels its kept bundles too") {
  Fixture f;
  std::string a = f.AddNode(1);
  f.AddNode(1);
  rpc::PlacementGroupInfo group = f.Group(2, Strategy::STRICT_SPREAD);
  REQUIRE(f.manager.Create(group).ok());
  f.rpc.AnswerAll("prepare");
  f.rpc.AnswerAll("commit");
  f.nodes.MarkDead(a, "test");  // One node left: STRICT_SPREAD cannot place the lost bundle.
  REQUIRE(f.State(group.placement_group_id()) == rpc::PlacementGroupInfo::RESCHEDULING);
  CHECK(f.rpc.calls.empty());
  REQUIRE(f.manager.Remove(group.placement_group_id()).ok());
  CHECK(f.rpc.cancelled.size() == 1);
}

TEST_CASE("placing lost bundles respects the strategy against the bundles kept") {
  std::vector<rpc::ResourceView> views = {View("n1", 4), View("n2", 4), View("n3", 4)};
  // STRICT_SPREAD: never on a node of a kept bundle.
  auto spread = ChooseBundleNodes(Strategy::STRICT_SPREAD, CpuBundles(3), views, {"n1", "", "n2"});
  REQUIRE(spread);
  CHECK((*spread)[0] == "n1");
  CHECK((*spread)[1] == "n3");
  CHECK((*spread)[2] == "n2");
  CHECK_FALSE(ChooseBundleNodes(Strategy::STRICT_SPREAD, CpuBundles(3), {View("n1", 4), View("n2", 4)},
                                {"n1", "", "n2"}));
  // STRICT_PACK: on the kept bundles' node, or nowhere.
  auto pack = ChooseBundleNodes(Strategy::STRICT_PACK, CpuBundles(3), views, {"", "n2", ""});
  REQUIRE(pack);
  CHECK(Distinct(*pack) == std::set<std::string>{"n2"});
  std::vector<rpc::ResourceView> full = {View("n1", 4), View("n2", 1)};
  CHECK_FALSE(ChooseBundleNodes(Strategy::STRICT_PACK, CpuBundles(3), full, {"", "n2", ""}));
  // PACK: joins the kept bundles' node while it fits.
  auto packed = ChooseBundleNodes(Strategy::PACK, CpuBundles(2), views, {"n3", ""});
  REQUIRE(packed);
  CHECK((*packed)[1] == "n3");
}
