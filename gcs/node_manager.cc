#include "gcs/node_manager.h"

#include <algorithm>

#include "common/id.h"
#include "common/logging.h"
#include "gcs/tables.h"

namespace lumen::gcs {

std::string IdHex(const std::string& binary) {
  return BytesToHex(reinterpret_cast<const uint8_t*>(binary.data()), binary.size());
}

absl::Status NodeManager::Load() {
  auto rows = store_.GetAll(kNodeTable);
  if (!rows.ok()) return rows.status();
  for (const auto& [key, value] : *rows) {
    rpc::NodeInfo node;
    if (!node.ParseFromString(value)) {
      LOG(ERROR) << "skipping unreadable node record " << key;
      continue;
    }
    nodes_[node.node_id()] = std::move(node);
  }
  LOG(INFO) << "loaded " << nodes_.size() << " nodes";
  return absl::OkStatus();
}

absl::Status NodeManager::Register(rpc::NodeInfo node) {
  if (node.node_id().size() != NodeId::kSize) {
    return absl::InvalidArgumentError("node id of " + std::to_string(node.node_id().size()) +
                                      " bytes, expected " + std::to_string(NodeId::kSize));
  }
  node.set_state(rpc::NodeInfo::ALIVE);
  node.clear_death_cause();
  node.clear_end_time_ms();
  if (node.start_time_ms() == 0) node.set_start_time_ms(clock_.WallMs());
  if (auto st = Persist(node); !st.ok()) return st;
  bool known = nodes_.contains(node.node_id());
  LOG(INFO) << (known ? "node alive again: " : "node registered: ") << IdHex(node.node_id())
            << " at " << node.ip() << ":" << node.raylet_port();
  Apply(node);
  return absl::OkStatus();
}

absl::Status NodeManager::Unregister(const std::string& node_id, const std::string& reason) {
  if (!nodes_.contains(node_id)) {
    return absl::NotFoundError("unknown node " + IdHex(node_id));
  }
  MarkDead(node_id, reason.empty() ? "unregistered" : reason);
  return absl::OkStatus();
}

void NodeManager::MarkDead(const std::string& node_id, const std::string& cause) {
  auto it = nodes_.find(node_id);
  if (it == nodes_.end() || it->second.state() == rpc::NodeInfo::DEAD) return;
  rpc::NodeInfo node = it->second;
  node.set_state(rpc::NodeInfo::DEAD);
  node.set_death_cause(cause);
  node.set_end_time_ms(clock_.WallMs());
  if (auto st = Persist(node); !st.ok()) {
    LOG(ERROR) << "node " << IdHex(node_id) << " is dead but could not be saved: " << st;
  }
  LOG(WARNING) << "node dead: " << IdHex(node_id) << " (" << cause << ")";
  Apply(node);
}

absl::Status NodeManager::Persist(const rpc::NodeInfo& node) {
  return store_.Put(kNodeTable, IdHex(node.node_id()), node.SerializeAsString());
}

void NodeManager::Apply(const rpc::NodeInfo& node) {
  nodes_[node.node_id()] = node;
  for (const auto& listener : listeners_) listener(node);
}

const rpc::NodeInfo* NodeManager::Find(const std::string& node_id) const {
  auto it = nodes_.find(node_id);
  return it == nodes_.end() ? nullptr : &it->second;
}

bool NodeManager::IsAlive(const std::string& node_id) const {
  const rpc::NodeInfo* node = Find(node_id);
  return node != nullptr && node->state() == rpc::NodeInfo::ALIVE;
}

std::vector<rpc::NodeInfo> NodeManager::GetAll() const {
  std::vector<rpc::NodeInfo> out;
  for (const auto& [id, node] : nodes_) out.push_back(node);
  std::sort(out.begin(), out.end(), [](const rpc::NodeInfo& a, const rpc::NodeInfo& b) {
    return a.start_time_ms() != b.start_time_ms() ? a.start_time_ms() < b.start_time_ms()
                                                  : a.node_id() < b.node_id();
  });
  return out;
}

std::vector<rpc::NodeInfo> NodeManager::GetAlive() const {
  std::vector<rpc::NodeInfo> out;
  for (auto& node : GetAll()) {
    if (node.state() == rpc::NodeInfo::ALIVE) out.push_back(std::move(node));
  }
  return out;
}

}  // namespace lumen::gcs
