// raylet/cluster_view.h
//
// ClusterView is what one raylet knows of the other nodes: their resource
// views (total, available) and raylet addresses, as last polled from the
// GCS (GetAllNodes when a node it has no address for appears). The views
// come as deltas (Apply): the raylet long-polls GetClusterResources with
// the version of its last reply, at most every kClusterViewPeriod, and
// the GCS answers with the views changed and the nodes gone since, or
// after kClusterPollWaitMs with nothing; an idle cluster costs each raylet
// an empty reply a second, not every node's view five times a second. A
// node missing from the GCS's views is dead or gone, and is dropped. Between polls, each spill to a node
// takes the request's shape off that node's available resources here, so
// that a burst of requests decided on one stale view spreads instead of
// herding onto one node (docs/scheduling.md).
// Plain data, no I/O; threading: the raylet loop only.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/common.pb.h"
#include "proto/gcs.pb.h"
#include "raylet/resource_set.h"
#include "raylet/spillback_policy.h"

namespace lumen::raylet {

inline constexpr std::chrono::milliseconds kClusterViewPeriod{200};
inline constexpr int64_t kClusterPollWaitMs = 1000;

class ClusterView {
 public:
  explicit ClusterView(std::string local_node_id) : local_(std::move(local_node_id)) {}

  // Replaces every node's resources with the GCS's `views` (alive nodes).
  // True when the set of nodes changed (one joined or died).
  bool UpdateResources(const std::vector<rpc::ResourceView>& views);
  // Applies a GetClusterResources reply (everything, or a delta on the
  // views applied before) and replaces the resources as UpdateResources
  // does. True when the set of nodes changed.
  bool Apply(const rpc::GetClusterResourcesReply& reply);
  // What to send as after_version and epoch in the next poll.
  int64_t version() const { return version_; }
  uint64_t epoch() const { return epoch_; }
  // Records raylet addresses; dead nodes are dropped.
  void UpdateNodes(const std::vector<rpc::NodeInfo>& nodes);
  // Some node has resources but no known address yet.
  bool NeedsAddresses() const;

  // The other alive nodes whose raylet address is known.
  std::vector<NodeView> Others() const;
  // The raylet of `node_id` (binary), when known.
  std::optional<rpc::Address> RayletAddress(const std::string& node_id) const;
  // A request of `shape` was sent to `node_id`: count it as taken there
  // until the next update.
  void Reserve(const std::string& node_id, const ResourceSet& shape);
  size_t NumOthers() const { return nodes_.size(); }

 private:
  struct Node {
    NodeView view;
    std::optional<rpc::Address> raylet;
  };
  std::string local_;
  absl::flat_hash_map<std::string, rpc::ResourceView> reported_;  // Every alive node, as the GCS has it.
  int64_t version_ = 0;
  uint64_t epoch_ = 0;
  absl::flat_hash_map<std::string, Node> nodes_;  // Other nodes, by binary id.
  absl::flat_hash_map<std::string, rpc::Address> addresses_;  // Alive nodes' raylets.
};

}  // namespace lumen::raylet
