#include "gcs/actor_directory.h"

#include <algorithm>

#include "common/logging.h"
#include "gcs/node_manager.h"
#include "gcs/tables.h"

namespace lumen::gcs {

using Phase = ActorEntry::Phase;

absl::Status ActorDirectory::Load() {
  auto rows = store_.GetAll(kActorTable);
  if (!rows.ok()) return rows.status();
  std::vector<std::pair<int64_t, std::string>> dead;  // (end time, id).
  for (const auto& [key, value] : *rows) {
    ActorEntry entry;
    if (!entry.info.ParseFromString(value) || entry.info.actor_id().empty()) {
      LOG(ERROR) << "skipping unreadable actor record " << key;
      continue;
    }
    const std::string id = entry.info.actor_id();
    switch (entry.info.state()) {
      case rpc::ActorInfo::ALIVE:
        entry.phase = Phase::kAlive;
        break;
      case rpc::ActorInfo::DEAD:
        entry.phase = Phase::kDead;
        entry.counted_dead = true;
        dead.emplace_back(entry.info.end_time_ms(), id);
        break;
      default:
        entry.phase = Phase::kWaiting;
    }
    auto [it, added] = actors_.insert_or_assign(id, std::move(entry));
    if (it->second.phase == Phase::kDead) continue;
    Index(it->second);
    if (it->second.phase == Phase::kAlive) SetNode(it->second, it->second.info.address().node_id());
  }
  std::sort(dead.begin(), dead.end());
  for (const auto& [end_time, id] : dead) dead_order_.push_back(id);
  TrimDead();
  LOG(INFO) << "loaded " << actors_.size() << " actors (" << dead_order_.size() << " dead)";
  return absl::OkStatus();
}

absl::StatusOr<ActorEntry*> ActorDirectory::Add(rpc::ActorInfo info) {
  const auto& name = info.name();
  if (!name.empty() && names_.contains(NameKey(info.ray_namespace(), name))) {
    return absl::AlreadyExistsError("actor name '" + name + "' is already taken in namespace '" +
                                    info.ray_namespace() + "'");
  }
  info.set_version(1);
  if (auto st = Persist(info); !st.ok()) return st;
  std::string id = info.actor_id();
  ActorEntry& entry = actors_[id];
  entry.info = std::move(info);
  Index(entry);
  return &entry;
}

void ActorDirectory::Commit(ActorEntry& entry) {
  entry.info.set_version(entry.info.version() + 1);
  if (auto st = Persist(entry.info); !st.ok()) {
    LOG(ERROR) << "actor " << IdHex(entry.info.actor_id()) << ": cannot save its change: " << st;
  }
  const bool newly_dead = entry.info.state() == rpc::ActorInfo::DEAD && !entry.counted_dead;
  if (newly_dead) {
    entry.counted_dead = true;
    Unindex(entry);
    SetNode(entry, "");
    dead_order_.push_back(entry.info.actor_id());
  }
  AnswerWaiters(entry);
  if (newly_dead) TrimDead();  // May drop `entry` itself when max_dead_ is 0.
}

void ActorDirectory::SetNode(ActorEntry& entry, const std::string& node_id) {
  const std::string& id = entry.info.actor_id();
  if (entry.node_id == node_id) {
    if (!node_id.empty()) by_node_[node_id].insert(id);
    return;
  }
  if (auto it = by_node_.find(entry.node_id); it != by_node_.end()) {
    it->second.erase(id);
    if (it->second.empty()) by_node_.erase(it);
  }
  entry.node_id = node_id;
  if (!node_id.empty()) by_node_[node_id].insert(id);
}

ActorEntry* ActorDirectory::Find(const std::string& actor_id) {
  auto it = actors_.find(actor_id);
  return it == actors_.end() ? nullptr : &it->second;
}

ActorEntry* ActorDirectory::FindByName(const std::string& ray_namespace, const std::string& name) {
  auto it = names_.find(NameKey(ray_namespace, name));
  return it == names_.end() ? nullptr : Find(it->second);
}

std::vector<std::string> ActorDirectory::ActorsOfJob(const std::string& job_id) const {
  auto it = by_job_.find(job_id);
  if (it == by_job_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<std::string> ActorDirectory::ActorsOnNode(const std::string& node_id) const {
  auto it = by_node_.find(node_id);
  if (it == by_node_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

std::vector<ActorEntry*> ActorDirectory::All() {
  std::vector<ActorEntry*> all;
  all.reserve(actors_.size());
  for (auto& [id, entry] : actors_) all.push_back(&entry);
  return all;
}

int64_t ActorDirectory::Poll(const std::string& actor_id, int64_t after_version,
                             PollReply reply) {
  const ActorEntry* entry = Find(actor_id);
  if (closed_ || entry == nullptr || entry->info.state() == rpc::ActorInfo::DEAD ||
      entry->info.version() > after_version) {
    reply(entry == nullptr ? nullptr : &entry->info);
    return 0;
  }
  int64_t id = next_waiter_id_++;
  waiters_.emplace(id, Waiter{actor_id, after_version, std::move(reply)});
  waiters_by_actor_[actor_id].insert(id);
  return id;
}

void ActorDirectory::Expire(int64_t waiter_id) {
  auto it = waiters_.find(waiter_id);
  if (it == waiters_.end()) return;
  Waiter waiter = std::move(it->second);
  waiters_.erase(it);
  if (auto set = waiters_by_actor_.find(waiter.actor_id); set != waiters_by_actor_.end()) {
    set->second.erase(waiter_id);
    if (set->second.empty()) waiters_by_actor_.erase(set);
  }
  const ActorEntry* entry = Find(waiter.actor_id);
  waiter.reply(entry == nullptr ? nullptr : &entry->info);
}

void ActorDirectory::Close() {
  closed_ = true;
  std::vector<int64_t> ids;
  ids.reserve(waiters_.size());
  for (const auto& [id, waiter] : waiters_) ids.push_back(id);
  for (int64_t id : ids) Expire(id);
}

absl::Status ActorDirectory::Persist(const rpc::ActorInfo& info) {
  return store_.Put(kActorTable, IdHex(info.actor_id()), info.SerializeAsString());
}

void ActorDirectory::Index(const ActorEntry& entry) {
  const rpc::ActorInfo& info = entry.info;
  if (!info.name().empty()) {
    auto [it, added] = names_.try_emplace(NameKey(info.ray_namespace(), info.name()),
                                          info.actor_id());
    if (!added && it->second != info.actor_id()) {
      LOG(ERROR) << "actor " << IdHex(info.actor_id()) << " and " << IdHex(it->second)
                 << " both hold the name '" << info.name() << "'; keeping the first";
    }
  }
  by_job_[info.job_id()].insert(info.actor_id());
}

void ActorDirectory::Unindex(const ActorEntry& entry) {
  const rpc::ActorInfo& info = entry.info;
  if (!info.name().empty()) {
    auto it = names_.find(NameKey(info.ray_namespace(), info.name()));
    if (it != names_.end() && it->second == info.actor_id()) names_.erase(it);
  }
  if (auto it = by_job_.find(info.job_id()); it != by_job_.end()) {
    it->second.erase(info.actor_id());
    if (it->second.empty()) by_job_.erase(it);
  }
}

void ActorDirectory::AnswerWaiters(const ActorEntry& entry) {
  auto set = waiters_by_actor_.find(entry.info.actor_id());
  if (set == waiters_by_actor_.end()) return;
  std::vector<int64_t> due;
  for (int64_t id : set->second) {
    auto it = waiters_.find(id);
    if (it != waiters_.end() && it->second.after_version < entry.info.version()) due.push_back(id);
  }
  for (int64_t id : due) Expire(id);  // Answers with the current info.
}

void ActorDirectory::Drop(const std::string& actor_id) {
  if (auto set = waiters_by_actor_.find(actor_id); set != waiters_by_actor_.end()) {
    std::vector<int64_t> ids(set->second.begin(), set->second.end());
    actors_.erase(actor_id);  // Waiters are told the actor is gone.
    for (int64_t id : ids) Expire(id);
  }
  actors_.erase(actor_id);
  auto st = store_.Delete(kActorTable, IdHex(actor_id));
  if (!st.ok()) LOG(ERROR) << "cannot delete dead actor " << IdHex(actor_id) << ": " << st.status();
}

void ActorDirectory::TrimDead() {
  while (dead_order_.size() > max_dead_) {
    std::string id = std::move(dead_order_.front());
    dead_order_.pop_front();
    Drop(id);
  }
}

}  // namespace lumen::gcs
