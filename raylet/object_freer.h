// raylet/object_freer.h
//
// ObjectFreer serves FreeObjects (docs/objects.md, "Between nodes"): an
// object's owner, when the object goes out of scope, asks its own raylet
// to have the store of each node holding a copy delete it. A call naming
// this node (or none) deletes here: a pinned primary or a pulled copy goes
// now, or at its last release if a process still maps it. A call naming
// another node is forwarded to that node's raylet (one call, not awaited).
// Best effort: a node the cluster view does not know as alive (dead) is
// skipped, an object already gone is no error, and the caller is always
// answered OK once the delete or the forward is under way.
// Threading: Free on the raylet loop only (it resolves nodes through the
// loop's cluster view); the local delete is one call to the node's store
// over its Unix socket. Forwarded calls complete on gRPC's threads.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "common/id.h"
#include "common/rpc/client.h"
#include "proto/raylet.grpc.pb.h"
#include "raylet/lazy_plasma.h"

namespace lumen::raylet {

class ObjectFreer {
 public:
  // The raylet address of a node (binary id), when it is alive and known.
  using Resolve = std::function<std::optional<rpc::Address>(const std::string& node_id)>;

  ObjectFreer(std::string plasma_socket, std::string token, std::string local_node_id, Resolve resolve);
  ~ObjectFreer();

  // Loop. Deletes here or forwards; an invalid id or node id is
  // INVALID_ARGUMENT, everything else OK (see above).
  absl::Status Free(const rpc::FreeObjectsRequest& request);
  // Objects this node's store was asked to delete (tests, logs).
  uint64_t deleted() const { return deleted_; }

 private:
  using RayletClient = rpc::RpcClient<rpc::RayletService>;
  static constexpr int64_t kForwardTimeoutMs = 10000;

  LazyPlasma plasma_;
  std::string token_;
  std::string local_node_id_;
  Resolve resolve_;
  std::map<std::string, std::unique_ptr<RayletClient>> clients_;  // By address; loop only.
  uint64_t deleted_ = 0;  // Loop only.
};

}  // namespace lumen::raylet
