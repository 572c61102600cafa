#include "gcs/resource_manager.h"

#include <algorithm>

namespace lumen::gcs {

void ResourceManager::OnNodeChange(const rpc::NodeInfo& node) {
  if (node.state() != rpc::NodeInfo::ALIVE) {
    views_.erase(node.node_id());
    return;
  }
  rpc::ResourceView view;
  view.set_node_id(node.node_id());
  *view.mutable_total() = node.resources_total();
  *view.mutable_available() = node.resources_total();
  views_[node.node_id()] = std::move(view);
}

bool ResourceManager::Report(const rpc::ResourceView& view) {
  auto it = views_.find(view.node_id());
  if (it == views_.end()) return false;
  it->second = view;
  return true;
}

std::vector<rpc::ResourceView> ResourceManager::GetAll() const {
  std::vector<rpc::ResourceView> out;
  for (const auto& [id, view] : views_) out.push_back(view);
  std::sort(out.begin(), out.end(), [](const rpc::ResourceView& a, const rpc::ResourceView& b) {
    return a.node_id() < b.node_id();
  });
  return out;
}

const rpc::ResourceView* ResourceManager::Find(const std::string& node_id) const {
  auto it = views_.find(node_id);
  return it == views_.end() ? nullptr : &it->second;
}

}  // namespace lumen::gcs
