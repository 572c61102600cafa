// gcs/resource_manager.h
//
// ResourceManager is the cluster resource view: total and available
// resources of every alive node, as last reported by its raylet
// (ReportResources). It follows the node table: a registered node starts
// with available = total, a dead node disappears. Views are not persisted:
// raylets report again every few hundred milliseconds.
//
// Versions and deltas (GetClusterResources with after_version): every
// change of a view (a report whose content differs, a node joining or
// going) takes the next version. A caller that passes the version of its
// last reply gets only the views changed since and the nodes gone since,
// so an idle cluster costs each raylet an empty reply per poll, not every
// node's view (raylets poll every 200 ms: all views each time would cost
// O(nodes^2) per period). A poll with nothing new waits until the next
// change or its deadline (the owner runs ExpireWaiters then). Views are
// indexed by version, so a delta costs O(changed), not O(nodes). The nodes
// gone are kept for the last kMaxRemoved removals; a caller behind that,
// or from before a GCS restart (another epoch), gets everything.
//
// Threading: the GCS loop only; replies are called inline. Failure: a
// report from a node that is not alive in the node table is refused (the
// raylet must register again).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/common.pb.h"
#include "proto/gcs.pb.h"

namespace lumen::gcs {

class ResourceManager {
 public:
  using DeltaCallback = std::function<void(rpc::GetClusterResourcesReply)>;
  static constexpr size_t kMaxRemoved = 1024;

  // `epoch`: tells this GCS's versions from another's (0: a random one).
  explicit ResourceManager(uint64_t epoch = 0);

  // Follows the node table (NodeManager listener).
  void OnNodeChange(const rpc::NodeInfo& node);
  // Records `view` of an alive node. False when the node is unknown or dead:
  // the caller answers unknown_node so that the raylet registers again.
  bool Report(const rpc::ResourceView& view);
  // The views of all alive nodes, ordered by node id.
  std::vector<rpc::ResourceView> GetAll() const;
  const rpc::ResourceView* Find(const std::string& node_id) const;

  // What changed after `after_version` (see the header comment). Answers
  // at once when there is something, when the caller needs everything, or
  // when `deadline_ms` <= `now_ms`; otherwise waits and returns true.
  bool Poll(int64_t after_version, uint64_t epoch, int64_t deadline_ms, int64_t now_ms,
            DeltaCallback reply);
  // Answers, with an empty delta, the waiters whose deadline is <= `now_ms`.
  void ExpireWaiters(int64_t now_ms);
  // Shutdown: answers every waiter now, and every later poll at once.
  void Close();

  int64_t version() const { return version_; }
  uint64_t epoch() const { return epoch_; }
  size_t num_waiters() const { return waiters_.size(); }

 private:
  struct Entry {
    rpc::ResourceView view;
    int64_t version = 0;
  };
  struct Waiter {
    int64_t after_version;
    uint64_t epoch;
    int64_t deadline_ms;
    DeltaCallback reply;
  };
  // The reply for a caller at `after_version` of `epoch`.
  rpc::GetClusterResourcesReply Delta(int64_t after_version, uint64_t epoch) const;
  bool HasNews(int64_t after_version, uint64_t epoch) const;
  // `entry` of `node_id` changed: it takes the next version.
  void Bump(const std::string& node_id, Entry& entry);
  void AnswerWaiters();

  const uint64_t epoch_;
  int64_t version_ = 0;
  absl::flat_hash_map<std::string, Entry> views_;  // Alive nodes only.
  std::map<int64_t, std::string> by_version_;     // Version -> node id, alive nodes.
  std::deque<std::pair<int64_t, std::string>> removed_;  // (version, node id), oldest first.
  int64_t removed_floor_ = 0;  // Removals at or below it are forgotten.
  std::vector<Waiter> waiters_;
  bool closed_ = false;
};

}  // namespace lumen::gcs
