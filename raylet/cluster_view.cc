#include "raylet/cluster_view.h"

namespace lumen::raylet {

bool ClusterView::UpdateResources(const std::vector<rpc::ResourceView>& views) {
  absl::flat_hash_map<std::string, Node> next;
  for (const rpc::ResourceView& view : views) {
    if (view.node_id() == local_) continue;
    Node node;
    node.view = NodeView{view.node_id(), ResourceSet::FromMap(view.total()),
                         ResourceSet::FromMap(view.available())};
    if (auto it = addresses_.find(view.node_id()); it != addresses_.end()) node.raylet = it->second;
    next.emplace(view.node_id(), std::move(node));
  }
  bool changed = next.size() != nodes_.size();
  for (const auto& [id, node] : next) changed = changed || !nodes_.contains(id);
  nodes_ = std::move(next);
  return changed;
}

bool ClusterView::Apply(const rpc::GetClusterResourcesReply& reply) {
  if (reply.full()) reported_.clear();
  for (const rpc::ResourceView& view : reply.views()) reported_[view.node_id()] = view;
  for (const std::string& gone : reply.removed()) reported_.erase(gone);
  version_ = reply.version();
  epoch_ = reply.epoch();
  std::vector<rpc::ResourceView> all;
  all.reserve(reported_.size());
  for (const auto& [id, view] : reported_) all.push_back(view);
  return UpdateResources(all);
}

void ClusterView::UpdateNodes(const std::vector<rpc::NodeInfo>& nodes) {
  addresses_.clear();
  for (const rpc::NodeInfo& info : nodes) {
    if (info.state() != rpc::NodeInfo::ALIVE || info.node_id() == local_) continue;
    rpc::Address address;
    address.set_ip(info.ip());
    address.set_port(info.raylet_port());
    address.set_node_id(info.node_id());
    addresses_[info.node_id()] = address;
  }
  for (auto it = nodes_.begin(); it != nodes_.end();) {
    auto address = addresses_.find(it->first);
    if (address == addresses_.end()) {
      nodes_.erase(it++);  // Dead, or unregistered.
      continue;
    }
    it->second.raylet = address->second;
    ++it;
  }
}

bool ClusterView::NeedsAddresses() const {
  for (const auto& [id, node] : nodes_) {
    if (!node.raylet) return true;
  }
  return false;
}

std::vector<NodeView> ClusterView::Others() const {
  std::vector<NodeView> others;
  others.reserve(nodes_.size());
  for (const auto& [id, node] : nodes_) {
    if (node.raylet) others.push_back(node.view);
  }
  return others;
}

std::optional<rpc::Address> ClusterView::RayletAddress(const std::string& node_id) const {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end()) return std::nullopt;
  return it->second.raylet;
}

void ClusterView::Reserve(const std::string& node_id, const ResourceSet& shape) {
  if (auto it = nodes_.find(node_id); it != nodes_.end()) it->second.view.available.Subtract(shape);
}

}  // namespace lumen::raylet
