#include "gcs/resource_manager.h"

#include <algorithm>
#include <iterator>
#include <random>

#include <google/protobuf/util/message_differencer.h>

#include "common/expired_waiters.h"

namespace lumen::gcs {
namespace {

uint64_t RandomEpoch() {
  std::random_device rd;
  uint64_t epoch = 0;
  while (epoch == 0) epoch = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return epoch;
}

}  // namespace

ResourceManager::ResourceManager(uint64_t epoch) : epoch_(epoch != 0 ? epoch : RandomEpoch()) {}

void ResourceManager::Bump(const std::string& node_id, Entry& entry) {
  if (entry.version != 0) by_version_.erase(entry.version);
  entry.version = ++version_;
  by_version_.emplace(entry.version, node_id);
}

void ResourceManager::OnNodeChange(const rpc::NodeInfo& node) {
  if (node.state() != rpc::NodeInfo::ALIVE) {
    auto it = views_.find(node.node_id());
    if (it == views_.end()) return;
    by_version_.erase(it->second.version);
    views_.erase(it);
    removed_.emplace_back(++version_, node.node_id());
    if (removed_.size() > kMaxRemoved) {
      removed_floor_ = removed_.front().first;
      removed_.pop_front();
    }
    AnswerWaiters();
    return;
  }
  Entry& entry = views_[node.node_id()];
  entry.view.set_node_id(node.node_id());
  *entry.view.mutable_total() = node.resources_total();
  *entry.view.mutable_available() = node.resources_total();
  Bump(node.node_id(), entry);
  AnswerWaiters();
}

bool ResourceManager::Report(const rpc::ResourceView& view) {
  auto it = views_.find(view.node_id());
  if (it == views_.end()) return false;
  // Raylets also report unchanged views (at least every second, as a
  // heartbeat): those are not changes.
  if (google::protobuf::util::MessageDifferencer::Equals(it->second.view, view)) return true;
  it->second.view = view;
  Bump(it->first, it->second);
  AnswerWaiters();
  return true;
}

std::vector<rpc::ResourceView> ResourceManager::GetAll() const {
  std::vector<rpc::ResourceView> out;
  out.reserve(views_.size());
  for (const auto& [id, entry] : views_) out.push_back(entry.view);
  std::sort(out.begin(), out.end(), [](const rpc::ResourceView& a, const rpc::ResourceView& b) {
    return a.node_id() < b.node_id();
  });
  return out;
}

const rpc::ResourceView* ResourceManager::Find(const std::string& node_id) const {
  auto it = views_.find(node_id);
  return it == views_.end() ? nullptr : &it->second.view;
}

bool ResourceManager::HasNews(int64_t after_version, uint64_t epoch) const {
  return after_version <= 0 || epoch != epoch_ || after_version != version_;
}

rpc::GetClusterResourcesReply ResourceManager::Delta(int64_t after_version, uint64_t epoch) const {
  rpc::GetClusterResourcesReply reply;
  reply.set_version(version_);
  reply.set_epoch(epoch_);
  const bool full = after_version <= 0 || epoch != epoch_ || after_version > version_ ||
                    after_version < removed_floor_;
  if (full) {
    reply.set_full(true);
    for (auto& view : GetAll()) *reply.add_views() = std::move(view);
    return reply;
  }
  for (auto it = by_version_.upper_bound(after_version); it != by_version_.end(); ++it) {
    *reply.add_views() = views_.at(it->second).view;
  }
  // removed_ is in version order: walk back over the recent ones only.
  for (auto it = removed_.rbegin(); it != removed_.rend() && it->first > after_version; ++it) {
    reply.add_removed(it->second);
  }
  return reply;
}

bool ResourceManager::Poll(int64_t after_version, uint64_t epoch, int64_t deadline_ms,
                           int64_t now_ms, DeltaCallback reply) {
  if (closed_ || deadline_ms <= now_ms || HasNews(after_version, epoch)) {
    reply(Delta(after_version, epoch));
    return false;
  }
  waiters_.push_back(Waiter{after_version, epoch, deadline_ms, std::move(reply)});
  return true;
}

void ResourceManager::AnswerWaiters() {
  if (waiters_.empty()) return;
  std::vector<Waiter> waiters = std::move(waiters_);
  waiters_.clear();
  for (Waiter& w : waiters) w.reply(Delta(w.after_version, w.epoch));
}

void ResourceManager::ExpireWaiters(int64_t now_ms) {
  for (Waiter& w : TakeExpiredWaiters(waiters_, now_ms)) w.reply(Delta(w.after_version, w.epoch));
}

void ResourceManager::Close() {
  closed_ = true;
  AnswerWaiters();
}

}  // namespace lumen::gcs
