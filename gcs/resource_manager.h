// gcs/resource_manager.h
//
// ResourceManager is the cluster resource view: total and available
// resources of every alive node, as last reported by its raylet
// (ReportResources). It follows the node table: a registered node starts
// with available = total, a dead node disappears. Views are not persisted:
// raylets report again every few hundred milliseconds.
// Threading: the GCS loop only. Failure: a report from a node that is not
// alive in the node table is refused (the raylet must register again).
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "proto/common.pb.h"

namespace lumen::gcs {

class ResourceManager {
 public:
  // Follows the node table (NodeManager listener).
  void OnNodeChange(const rpc::NodeInfo& node);
  // Records `view` of an alive node. False when the node is unknown or dead:
  // the caller answers unknown_node so that the raylet registers again.
  bool Report(const rpc::ResourceView& view);
  // The views of all alive nodes, ordered by node id.
  std::vector<rpc::ResourceView> GetAll() const;
  const rpc::ResourceView* Find(const std::string& node_id) const;

 private:
  absl::flat_hash_map<std::string, rpc::ResourceView> views_;  // Alive nodes only.
};

}  // namespace lumen::gcs
