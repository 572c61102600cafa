#include "worker/object_locations.h"

#include <algorithm>

namespace lumen::worker {

bool ObjectLocations::Add(const ObjectId& id, const std::string& node) {
  absl::MutexLock lock(&mu_);
  std::vector<std::string>& nodes = copies_[id];
  const bool added = std::find(nodes.begin(), nodes.end(), node) == nodes.end();
  if (added) nodes.push_back(node);
  UpdateSize();
  return added;
}

std::vector<std::string> ObjectLocations::Get(const ObjectId& id) const {
  absl::MutexLock lock(&mu_);
  auto it = copies_.find(id);
  return it == copies_.end() ? std::vector<std::string>() : it->second;
}

std::vector<std::string> ObjectLocations::Take(const ObjectId& id) {
  absl::MutexLock lock(&mu_);
  auto it = copies_.find(id);
  if (it == copies_.end()) return {};
  std::vector<std::string> nodes = std::move(it->second);
  copies_.erase(it);
  UpdateSize();
  return nodes;
}

size_t ObjectLocations::ForgetNode(const std::string& node) {
  absl::MutexLock lock(&mu_);
  size_t forgotten = 0;
  for (auto it = copies_.begin(); it != copies_.end();) {
    std::vector<std::string>& nodes = it->second;
    auto found = std::find(nodes.begin(), nodes.end(), node);
    if (found != nodes.end()) {
      nodes.erase(found);
      ++forgotten;
    }
    if (nodes.empty()) {
      copies_.erase(it++);
    } else {
      ++it;
    }
  }
  UpdateSize();
  return forgotten;
}

std::optional<std::string> ObjectLocations::FailOver(
    const ObjectId& id, const std::string& lost, const std::function<bool()>& still_lost,
    const std::function<void(const std::string&)>& use) {
  absl::MutexLock lock(&mu_);
  auto it = copies_.find(id);
  if (it == copies_.end()) return std::nullopt;
  std::vector<std::string>& nodes = it->second;
  nodes.erase(std::remove(nodes.begin(), nodes.end(), lost), nodes.end());
  std::optional<std::string> chosen;
  if (!nodes.empty() && still_lost()) {
    chosen = nodes.front();
    nodes.erase(nodes.begin());
    use(*chosen);
  }
  if (nodes.empty()) copies_.erase(it);
  UpdateSize();
  return chosen;
}

bool RemoteFrees::Add(const std::string& node, const ObjectId& id) {
  absl::MutexLock lock(&mu_);
  const bool first = by_node_.empty();
  auto it = std::find_if(by_node_.begin(), by_node_.end(),
                         [&](const auto& entry) { return entry.first == node; });
  if (it == by_node_.end()) {
    by_node_.emplace_back(node, std::vector<ObjectId>{id});
  } else {
    it->second.push_back(id);
  }
  return first;
}

void RemoteFrees::Flush(const SendFn& send) {
  std::vector<std::pair<std::string, std::vector<ObjectId>>> queued;
  {
    absl::MutexLock lock(&mu_);
    queued.swap(by_node_);
  }
  for (auto& [node, ids] : queued) {
    for (size_t begin = 0; begin < ids.size(); begin += kMaxBatch) {
      const size_t end = std::min(ids.size(), begin + kMaxBatch);
      send(node, std::vector<ObjectId>(ids.begin() + begin, ids.begin() + end));
    }
  }
}

}  // namespace lumen::worker
