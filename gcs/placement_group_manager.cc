#include "gcs/placement_group_manager.h"

#include <algorithm>

#include "common/logging.h"
#include "common/resources.h"
#include "gcs/placement_group_policy.h"
#include "gcs/tables.h"

namespace lumen::gcs {

namespace {

constexpr size_t kPlacementGroupIdBytes = 16;

rpc::BundleRequest BundleCall(const rpc::PlacementGroupInfo& group, int index) {
  rpc::BundleRequest request;
  request.set_placement_group_id(group.placement_group_id());
  request.set_bundle_index(index);
  *request.mutable_resources() = group.bundles(index).resources();
  return request;
}

bool IsLive(const rpc::PlacementGroupInfo& group) {
  return group.state() != rpc::PlacementGroupInfo::REMOVED;
}

}  // namespace

PlacementGroupManager::PlacementGroupManager(StoreClient& store, const Clock& clock,
                                             const NodeManager& nodes,
                                             const ResourceManager& resources, BundleRpc& rpc)
    : store_(store), clock_(clock), nodes_(nodes), resources_(resources), rpc_(rpc) {}

absl::Status PlacementGroupManager::Load() {
  auto rows = store_.GetAll(kPlacementGroupTable);
  if (!rows.ok()) return rows.status();
  std::vector<rpc::PlacementGroupInfo> loaded;
  for (const auto& [key, value] : *rows) {
    rpc::PlacementGroupInfo group;
    if (!group.ParseFromString(value)) {
      LOG(WARNING) << "placement group " << key << ": unreadable row, skipped";
      continue;
    }
    loaded.push_back(std::move(group));
  }
  std::sort(loaded.begin(), loaded.end(), [](const auto& a, const auto& b) {
    return a.create_time_ms() < b.create_time_ms();
  });
  for (auto& group : loaded) {
    if (group.state() == rpc::PlacementGroupInfo::PENDING ||
        group.state() == rpc::PlacementGroupInfo::RESCHEDULING) {
      waiting_.push_back(group.placement_group_id());
    }
    groups_[group.placement_group_id()] = std::move(group);
  }
  return absl::OkStatus();
}

absl::Status PlacementGroupManager::Create(rpc::PlacementGroupInfo group) {
  if (group.placement_group_id().size() != kPlacementGroupIdBytes) {
    return absl::InvalidArgumentError("a placement group id is " +
                                      std::to_string(kPlacementGroupIdBytes) + " bytes");
  }
  if (group.bundles().empty()) {
    return absl::InvalidArgumentError("a placement group needs at least one bundle");
  }
  for (int i = 0; i < group.bundles_size(); ++i) {
    auto& bundle = *group.mutable_bundles(i);
    bool any = false;
    for (const auto& [name, amount] : bundle.resources()) any = any || amount > 0;
    if (!any) {
      return absl::InvalidArgumentError("bundle " + std::to_string(i) +
                                        " of the placement group asks for no resources");
    }
    if (absl::Status bad = ValidateResources(bundle.resources()); !bad.ok()) {
      return absl::InvalidArgumentError("bundle " + std::to_string(i) + ": " +
                                        std::string(bad.message()));
    }
    bundle.set_index(i);
    bundle.clear_node_id();
  }
  if (groups_.contains(group.placement_group_id())) {
    return absl::AlreadyExistsError("placement group " + IdHex(group.placement_group_id()) +
                                    " exists");
  }
  if (!group.name().empty() && FindByName(group.ray_namespace(), group.name()) != nullptr) {
    return absl::AlreadyExistsError("a placement group named \"" + group.name() +
                                    "\" exists in namespace \"" + group.ray_namespace() + "\"");
  }
  group.set_state(rpc::PlacementGroupInfo::PENDING);
  group.set_create_time_ms(clock_.WallMs());
  if (absl::Status st = store_.Put(kPlacementGroupTable, IdHex(group.placement_group_id()),
                                   group.SerializeAsString());
      !st.ok()) {
    return st;
  }
  std::string id = group.placement_group_id();
  groups_[id] = std::move(group);
  Enqueue(id);
  ScheduleNext();
  return absl::OkStatus();
}

absl::Status PlacementGroupManager::Remove(const std::string& pg_id) {
  auto it = groups_.find(pg_id);
  if (it == groups_.end()) {
    return absl::NotFoundError("no placement group " + IdHex(pg_id));
  }
  rpc::PlacementGroupInfo& group = it->second;
  if (!IsLive(group)) return absl::OkStatus();
  if (on_removed_) on_removed_(pg_id);
  // What an attempt in flight prepared, and the bundles kept while the
  // group is placed again after a node died (or all, once CREATED).
  if (attempt_ && attempt_->pg_id == pg_id) GiveUpAttempt("removed");
  for (const auto& bundle : group.bundles()) {
    if (!bundle.node_id().empty()) CancelBundle(pg_id, bundle.index(), bundle.node_id());
  }
  for (auto& bundle : *group.mutable_bundles()) bundle.clear_node_id();
  group.set_state(rpc::PlacementGroupInfo::REMOVED);
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), pg_id), waiting_.end());
  Persist(group);
  ScheduleNext();
  return absl::OkStatus();
}

const rpc::PlacementGroupInfo* PlacementGroupManager::Find(const std::string& pg_id) const {
  auto it = groups_.find(pg_id);
  return it == groups_.end() ? nullptr : &it->second;
}

const rpc::PlacementGroupInfo* PlacementGroupManager::FindByName(
    const std::string& ray_namespace, const std::string& name) const {
  for (const auto& [id, group] : groups_) {
    if (IsLive(group) && group.name() == name && group.ray_namespace() == ray_namespace) {
      return &group;
    }
  }
  return nullptr;
}

std::vector<rpc::PlacementGroupInfo> PlacementGroupManager::List() const {
  std::vector<rpc::PlacementGroupInfo> out;
  for (const auto& [id, group] : groups_) out.push_back(group);
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) {
    return a.create_time_ms() < b.create_time_ms();
  });
  return out;
}

void PlacementGroupManager::Tick() { ScheduleNext(); }

void PlacementGroupManager::OnNodeChange(const rpc::NodeInfo& node) {
  if (node.state() == rpc::NodeInfo::ALIVE) {
    ScheduleNext();
    return;
  }
  if (attempt_ &&
      std::find(attempt_->nodes.begin(), attempt_->nodes.end(), node.node_id()) !=
          attempt_->nodes.end()) {
    GiveUpAttempt("node " + IdHex(node.node_id()) + " died");
  }
  for (auto& [id, group] : groups_) {
    if (group.state() != rpc::PlacementGroupInfo::CREATED &&
        group.state() != rpc::PlacementGroupInfo::RESCHEDULING) {
      continue;
    }
    int lost = 0;
    for (auto& bundle : *group.mutable_bundles()) {
      if (bundle.node_id() != node.node_id()) continue;
      bundle.clear_node_id();  // Only these are placed again.
      ++lost;
    }
    if (lost == 0) continue;
    LOG(WARNING) << "placement group " << IdHex(id) << " lost " << lost << " of "
                 << group.bundles_size() << " bundles on dead node " << IdHex(node.node_id())
                 << "; placing those again";
    group.set_state(rpc::PlacementGroupInfo::RESCHEDULING);
    Persist(group);
    Enqueue(id);
  }
  ScheduleNext();
}

void PlacementGroupManager::Enqueue(const std::string& pg_id) {
  if (std::find(waiting_.begin(), waiting_.end(), pg_id) == waiting_.end()) {
    waiting_.push_back(pg_id);
  }
}

// Tries the waiting groups in order; starts the first that fits the view.
void PlacementGroupManager::ScheduleNext() {
  if (attempt_) return;
  std::vector<rpc::ResourceView> views = resources_.GetAll();
  for (const std::string& pg_id : waiting_) {
    const rpc::PlacementGroupInfo& group = groups_.at(pg_id);
    std::vector<std::map<std::string, double>> bundles;
    std::vector<std::string> placed;  // Kept bundles' nodes ("" to place).
    std::vector<int> indexes;
    for (const auto& bundle : group.bundles()) {
      bundles.emplace_back(bundle.resources().begin(), bundle.resources().end());
      placed.push_back(bundle.node_id());
      if (bundle.node_id().empty()) indexes.push_back(static_cast<int>(placed.size() - 1));
    }
    auto nodes = ChooseBundleNodes(group.strategy(), bundles, views, placed);
    if (!nodes) continue;
    attempt_ = Attempt{pg_id, next_attempt_++, *nodes, indexes, 0,
                       std::vector<bool>(nodes->size(), false), false};
    const int64_t number = attempt_->number;
    for (int i : indexes) {
      const rpc::NodeInfo* node = nodes_.Find((*nodes)[i]);
      if (node == nullptr || node->state() != rpc::NodeInfo::ALIVE) {
        OnPrepared(number, i, absl::UnavailableError("node is gone"), false);
        continue;
      }
      rpc_.Prepare(*node, BundleCall(group, i), [this, number, i](absl::Status st, bool ok) {
        OnPrepared(number, i, st, ok);
      });
    }
    return;
  }
}

void PlacementGroupManager::OnPrepared(int64_t number, int index, absl::Status status,
                                       bool prepared) {
  if (!attempt_ || attempt_->number != number) {
    // An attempt given up: what this answer reserved goes back. The group
    // may have been removed and even forgotten: cancel by the call's node.
    return;
  }
  Attempt& attempt = *attempt_;
  attempt.prepared[index] = status.ok() && prepared;
  if (!status.ok()) {
    LOG(WARNING) << "placement group " << IdHex(attempt.pg_id) << ": prepare of bundle " << index
                 << " failed: " << status;
  }
  attempt.failed = attempt.failed || !attempt.prepared[index];
  if (++attempt.answers < static_cast<int>(attempt.indexes.size())) return;
  if (attempt.failed) {
    GiveUpAttempt("a node could not reserve its bundle");
    return;
  }
  CommitAll();
}

void PlacementGroupManager::CommitAll() {
  Attempt& attempt = *attempt_;
  attempt.answers = 0;
  const rpc::PlacementGroupInfo& group = groups_.at(attempt.pg_id);
  const int64_t number = attempt.number;
  for (int i : std::vector<int>(attempt.indexes)) {
    const rpc::NodeInfo* node = nodes_.Find(attempt.nodes[i]);
    if (node == nullptr || node->state() != rpc::NodeInfo::ALIVE) {
      OnCommitted(number, absl::UnavailableError("node is gone"));
      continue;
    }
    rpc_.Commit(*node, BundleCall(group, i),
                [this, number](absl::Status st) { OnCommitted(number, st); });
  }
}

void PlacementGroupManager::OnCommitted(int64_t number, absl::Status status) {
  if (!attempt_ || attempt_->number != number) return;
  Attempt& attempt = *attempt_;
  if (!status.ok()) {
    LOG(WARNING) << "placement group " << IdHex(attempt.pg_id) << ": commit failed: " << status;
    attempt.failed = true;
  }
  if (++attempt.answers < static_cast<int>(attempt.indexes.size())) return;
  if (attempt.failed) {
    GiveUpAttempt("a commit failed");
    return;
  }
  rpc::PlacementGroupInfo& group = groups_.at(attempt.pg_id);
  for (int i : attempt.indexes) group.mutable_bundles(i)->set_node_id(attempt.nodes[i]);
  group.set_state(rpc::PlacementGroupInfo::CREATED);
  Persist(group);
  waiting_.erase(std::remove(waiting_.begin(), waiting_.end(), attempt.pg_id), waiting_.end());
  LOG(INFO) << "placement group " << IdHex(attempt.pg_id) << " created";
  attempt_.reset();
  ScheduleNext();
}

// Cancels every bundle the attempt may have reserved (prepared or not: a
// late prepare answer is not waited for, and Cancel of an unknown bundle
// is a no-op at the raylet); the group stays where it is in the queue.
void PlacementGroupManager::GiveUpAttempt(const std::string& why) {
  Attempt attempt = std::move(*attempt_);
  attempt_.reset();
  LOG(INFO) << "placement group " << IdHex(attempt.pg_id) << ": attempt given up (" << why
            << "); it waits";
  for (int i : attempt.indexes) CancelBundle(attempt.pg_id, i, attempt.nodes[i]);
}

void PlacementGroupManager::CancelBundle(const std::string& pg_id, int index,
                                         const std::string& node_id) {
  const rpc::NodeInfo* node = nodes_.Find(node_id);
  if (node == nullptr || node->state() != rpc::NodeInfo::ALIVE) return;
  rpc::BundleRequest request;
  request.set_placement_group_id(pg_id);
  request.set_bundle_index(index);
  rpc_.Cancel(*node, request, [pg_id, index](absl::Status st) {
    if (!st.ok()) {
      LOG(WARNING) << "placement group " << IdHex(pg_id) << ": cancel of bundle " << index
                   << " failed: " << st;
    }
  });
}

void PlacementGroupManager::Persist(const rpc::PlacementGroupInfo& group) {
  absl::Status st = store_.Put(kPlacementGroupTable, IdHex(group.placement_group_id()),
                               group.SerializeAsString());
  if (!st.ok()) {
    LOG(WARNING) << "placement group " << IdHex(group.placement_group_id())
                 << ": cannot persist: " << st;
  }
}

}  // namespace lumen::gcs
