#include "gcs/node_change_publisher.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "common/expired_waiters.h"
#include "common/logging.h"
#include "gcs/tables.h"

namespace lumen::gcs {

absl::Status NodeChangePublisher::Load(const std::vector<rpc::NodeInfo>& nodes) {
  auto saved = store_.Get(kCounterTable, kNodeChangeSeqCounter);
  if (!saved.ok()) return saved.status();
  if (saved->has_value() && !absl::SimpleAtoi(**saved, &last_seq_)) last_seq_ = 0;
  for (const auto& node : nodes) Record(node);
  return absl::OkStatus();
}

void NodeChangePublisher::Record(const rpc::NodeInfo& node) {
  rpc::NodeChange change;
  change.set_seq(++last_seq_);
  *change.mutable_node() = node;
  latest_[node.node_id()] = std::move(change);
  auto st = store_.Put(kCounterTable, kNodeChangeSeqCounter, std::to_string(last_seq_));
  if (!st.ok()) LOG(ERROR) << "cannot save the node change seq: " << st;
}

void NodeChangePublisher::Publish(const rpc::NodeInfo& node) {
  Record(node);
  std::vector<Waiter> waiters;
  waiters.swap(waiters_);
  for (auto& waiter : waiters) waiter.reply(ChangesAfter(waiter.after_seq));
}

bool NodeChangePublisher::Poll(int64_t after_seq, int64_t deadline_ms, int64_t now_ms,
                               ReplyCallback reply) {
  rpc::PollNodeChangesReply changes = ChangesAfter(after_seq);
  if (changes.changes_size() > 0 || closed_ || deadline_ms <= now_ms) {
    reply(std::move(changes));
    return false;
  }
  waiters_.push_back({after_seq, deadline_ms, std::move(reply)});
  return true;
}

void NodeChangePublisher::ExpireWaiters(int64_t now_ms) {
  for (auto& waiter : TakeExpiredWaiters(waiters_, now_ms)) waiter.reply(ChangesAfter(waiter.after_seq));
}

void NodeChangePublisher::Close() {
  closed_ = true;
  std::vector<Waiter> waiters;
  waiters.swap(waiters_);
  for (auto& waiter : waiters) waiter.reply(ChangesAfter(waiter.after_seq));
}

rpc::PollNodeChangesReply NodeChangePublisher::ChangesAfter(int64_t after_seq) const {
  // A poller ahead of us saw a previous GCS incarnation: give it everything.
  int64_t from = after_seq > last_seq_ ? 0 : after_seq;
  std::vector<const rpc::NodeChange*> picked;
  for (const auto& [id, change] : latest_) {
    if (change.seq() > from) picked.push_back(&change);
  }
  std::sort(picked.begin(), picked.end(),
            [](const rpc::NodeChange* a, const rpc::NodeChange* b) { return a->seq() < b->seq(); });
  rpc::PollNodeChangesReply reply;
  for (const auto* change : picked) *reply.add_changes() = *change;
  reply.set_last_seq(last_seq_);
  return reply;
}

}  // namespace lumen::gcs
