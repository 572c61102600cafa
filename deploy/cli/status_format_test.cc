#include "deploy/cli/status_format.h"

#include <catch2/catch.hpp>

namespace lumen::cli {
namespace {

rpc::NodeInfo Node(char id, bool alive, double cpus) {
  rpc::NodeInfo node;
  node.set_node_id(std::string(28, id));
  node.set_ip("127.0.0.1");
  node.set_raylet_port(40000 + id);
  node.set_state(alive ? rpc::NodeInfo::ALIVE : rpc::NodeInfo::DEAD);
  (*node.mutable_resources_total())["CPU"] = cpus;
  (*node.mutable_resources_total())["object_store_memory"] = 2.0 * 1024 * 1024 * 1024;
  (*node.mutable_resources_total())["node:127.0.0.1"] = 1;
  return node;
}

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("FormatUsage") {
  CHECK(FormatUsage("CPU", 1, 4) == "1.0/4.0 CPU");
  CHECK(FormatUsage("memory", 0, 1.5 * 1024 * 1024 * 1024) == "0.00/1.50 GiB memory");
  CHECK(FormatGiB(512.0 * 1024 * 1024) == "0.50 GiB");
}

TEST_CASE("FormatClusterStatus lists nodes and totals over alive nodes") {
  auto head = Node(1, true, 4);
  head.set_is_head(true);
  auto worker = Node(2, true, 2);
  (*worker.mutable_resources_total())["special_hardware"] = 1;
  auto dead = Node(3, false, 8);
  dead.set_death_cause("health check failed");
  rpc::ResourceView view;
  view.set_node_id(head.node_id());
  (*view.mutable_total())["CPU"] = 4;
  (*view.mutable_available())["CPU"] = 3;
  std::string text = FormatClusterStatus("127.0.0.1:6379", {head, worker, dead}, {view});
  INFO(text);
  CHECK(Has(text, "Lumen cluster at 127.0.0.1:6379"));
  CHECK(Has(text, "Nodes: 2 alive, 1 dead"));
  CHECK(Has(text, "node 010101010101  127.0.0.1:40001  ALIVE  head"));
  CHECK(Has(text, "1.0/4.0 CPU"));
  CHECK(Has(text, "0.0/2.0 CPU"));
  CHECK(Has(text, "DEAD (health check failed)"));
  CHECK(Has(text, "0.0/1.0 special_hardware"));
  CHECK(Has(text, "0.00/2.00 GiB object_store_memory"));
  CHECK_FALSE(Has(text, "node:127.0.0.1"));
  const std::string total = text.substr(text.find("Total"));
  CHECK(Has(total, "1.0/6.0 CPU"));
  CHECK(Has(total, "0.00/4.00 GiB object_store_memory"));
  CHECK_FALSE(Has(total, "8.0"));
  CHECK_FALSE(Has(text, "object store:"));  // The raylet did not report it.

  // What the raylet reports of its object store: used, objects, spilled.
  view.set_has_object_store(true);
  view.set_object_store_capacity(512ull << 20);
  view.set_object_store_used(128ull << 20);
  view.set_object_store_objects(12);
  view.set_spilled_bytes(1ull << 30);
  view.set_spilled_objects(17);
  text = FormatClusterStatus("127.0.0.1:6379", {head, worker, dead}, {view});
  INFO(text);
  CHECK(Has(text, "    object store: 0.12/0.50 GiB used (12 objects), 1.00 GiB spilled (17 objects)\n"));
  CHECK_FALSE(Has(text, "Pending demands"));
}

TEST_CASE("FormatClusterStatus shows the pending demands by shape, summed over nodes") {
  auto a = Node(1, true, 4);
  auto b = Node(2, true, 4);
  auto demand = [](rpc::ResourceView& view, double cpus, int count, bool infeasible) {
    rpc::ResourceDemand* d = view.add_pending_demands();
    (*d->mutable_shape())["CPU"] = cpus;
    d->set_count(count);
    d->set_infeasible(infeasible);
    view.set_num_pending_tasks(view.num_pending_tasks() + count);
  };
  rpc::ResourceView va, vb;
  va.set_node_id(a.node_id());
  vb.set_node_id(b.node_id());
  demand(va, 1, 3, false);
  demand(vb, 1, 2, false);
  demand(vb, 64, 1, true);
  std::string text = FormatClusterStatus("h:1", {a, b}, {va, vb});
  INFO(text);
  CHECK(Has(text, "Pending: 6 resource requests waiting for a node\n"));
  CHECK(Has(text, "Pending demands:\n  {CPU: 1}: 5 requests\n"));
  CHECK(Has(text, "  {CPU: 64}: 1 request (infeasible: no node has these resources)\n"));
}

}  // namespace
}  // namespace lumen::cli
