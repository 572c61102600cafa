// gcs/node_manager.h
//
// NodeManager is the node table: every node that ever registered, alive or
// dead (with the cause and end time of its death). Registering a known node
// id again makes it alive again (a raylet that outlived a GCS restart, or
// one wrongly declared dead). Every change is written through StoreClient
// before it is applied, then announced to the listeners (pub/sub, resource
// view, health checker).
// Threading: the GCS loop only. Failure: a store error is returned and the
// table is left unchanged; MarkDead applies the death even when the store
// fails (the node is gone either way) and logs the error.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "common/clock.h"
#include "gcs/store/store_client.h"
#include "proto/common.pb.h"

namespace lumen::gcs {

class NodeManager {
 public:
  using Listener = std::function<void(const rpc::NodeInfo&)>;

  // `store` and `clock` are not owned and must outlive the manager.
  NodeManager(StoreClient& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Reads the node table from the store (GCS start). Listeners are not told.
  absl::Status Load();
  // `listener` is called after every change with the node's new state.
  void AddListener(Listener listener) { listeners_.push_back(std::move(listener)); }

  // Adds `node` as ALIVE, or makes a known node alive again.
  absl::Status Register(rpc::NodeInfo node);
  // Marks the node dead because it said goodbye; cause `reason`, or
  // "unregistered" when empty. NotFound for an unknown node.
  absl::Status Unregister(const std::string& node_id, const std::string& reason);
  // Marks an alive node dead with `cause` (e.g. "health check failed").
  // Unknown or already dead nodes are left alone.
  void MarkDead(const std::string& node_id, const std::string& cause);

  // Null when unknown. The pointer is valid until the next change.
  const rpc::NodeInfo* Find(const std::string& node_id) const;
  bool IsAlive(const std::string& node_id) const;
  std::vector<rpc::NodeInfo> GetAll() const;
  std::vector<rpc::NodeInfo> GetAlive() const;

 private:
  absl::Status Persist(const rpc::NodeInfo& node);
  void Apply(const rpc::NodeInfo& node);

  StoreClient& store_;
  const Clock& clock_;
  absl::flat_hash_map<std::string, rpc::NodeInfo> nodes_;  // By binary node id.
  std::vector<Listener> listeners_;
};

// The hex form of a binary id, for logs and store keys.
std::string IdHex(const std::string& binary);

}  // namespace lumen::gcs
