// gcs/node_change_publisher.h
//
// NodeChangePublisher serves the PollNodeChanges long poll. Every node
// change gets the next sequence number; the publisher keeps the latest
// change of each node, so a poller asking for "changes after seq S" gets,
// for every node that changed after S, its current state (bounded by the
// number of nodes, never a growing log).
//
// A poll with nothing new waits until a change is published (then every
// waiter is answered) or its deadline passes (then it is answered with no
// changes; the owner arranges for ExpireWaiters to run at the deadline).
// The last seq is persisted in the COUNTER table and the nodes loaded at a
// GCS restart are republished after it, so subscribers that outlive a GCS
// restart on Redis see every node again. A poller whose after_seq is ahead
// of the publisher (a GCS restarted without Redis) gets everything at once.
// Threading: the GCS loop only; replies are called inline.
// Failure: an unsaved seq is logged; serving continues.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "gcs/store/store_client.h"
#include "proto/gcs.pb.h"

namespace lumen::gcs {

class NodeChangePublisher {
 public:
  using ReplyCallback = std::function<void(rpc::PollNodeChangesReply)>;

  // `store` is not owned and must outlive the publisher.
  explicit NodeChangePublisher(StoreClient& store) : store_(store) {}

  // Reads the saved seq and publishes `nodes` (the loaded node table) after it.
  absl::Status Load(const std::vector<rpc::NodeInfo>& nodes);
  // Records a change of `node` and answers every waiting poller.
  void Publish(const rpc::NodeInfo& node);
  // Answers at once when there is something after `after_seq` (or the
  // publisher is closed, or `deadline_ms` <= `now_ms`); otherwise waits.
  // Returns true when the poll is waiting.
  bool Poll(int64_t after_seq, int64_t deadline_ms, int64_t now_ms, ReplyCallback reply);
  // Answers, with no changes, the waiters whose deadline is <= `now_ms`.
  void ExpireWaiters(int64_t now_ms);
  // Shutdown: answers every waiter now, and every later poll at once.
  void Close();

  int64_t last_seq() const { return last_seq_; }
  size_t num_waiters() const { return waiters_.size(); }

 private:
  struct Waiter {
    int64_t after_seq;
    int64_t deadline_ms;
    ReplyCallback reply;
  };
  rpc::PollNodeChangesReply ChangesAfter(int64_t after_seq) const;
  void Record(const rpc::NodeInfo& node);

  StoreClient& store_;
  int64_t last_seq_ = 0;
  bool closed_ = false;
  absl::flat_hash_map<std::string, rpc::NodeChange> latest_;  // By node id.
  std::vector<Waiter> waiters_;
};

}  // namespace lumen::gcs
