#include "raylet/object_freer.h"

#include <vector>

#include "common/logging.h"

namespace lumen::raylet {

ObjectFreer::ObjectFreer(std::string plasma_socket, std::string token, std::string local_node_id,
                         Resolve resolve)
    : plasma_(std::move(plasma_socket)),
      token_(std::move(token)),
      local_node_id_(std::move(local_node_id)),
      resolve_(std::move(resolve)) {}

ObjectFreer::~ObjectFreer() = default;

absl::Status ObjectFreer::Free(const rpc::FreeObjectsRequest& request) {
  std::vector<ObjectId> ids;
  ids.reserve(request.object_ids_size());
  for (const std::string& binary : request.object_ids()) {
    auto id = ObjectId::FromBinary(binary);
    if (!id.ok()) return absl::InvalidArgumentError("FreeObjects: invalid object id");
    ids.push_back(*id);
  }
  const std::string& node = request.node_id();
  if (!node.empty() && !NodeId::FromBinary(node).ok()) {
    return absl::InvalidArgumentError("FreeObjects: invalid node id");
  }
  if (ids.empty()) return absl::OkStatus();
  if (node.empty() || node == local_node_id_) {
    auto plasma = plasma_.Get();
    absl::Status deleted = plasma.ok() ? (*plasma)->Delete(ids) : plasma.status();
    if (!deleted.ok()) VLOG(1) << "FreeObjects: deleting " << ids.size() << " objects: " << deleted;
    deleted_ += ids.size();
    return absl::OkStatus();
  }
  std::optional<rpc::Address> raylet = resolve_(node);
  if (!raylet) return absl::OkStatus();  // Dead or unknown: its copies went with it.
  const std::string address = raylet->ip() + ":" + std::to_string(raylet->port());
  auto& client = clients_[address];
  if (!client) client = std::make_unique<RayletClient>(address, token_);
  rpc::FreeObjectsRequest forward;
  *forward.mutable_object_ids() = request.object_ids();
  client->Call(&rpc::RayletService::Stub::async::FreeObjects, forward,
               std::function<void(absl::Status, rpc::FreeObjectsReply&&)>(
                   [address, count = ids.size()](absl::Status status, rpc::FreeObjectsReply&&) {
                     if (!status.ok()) {
                       VLOG(1) << "FreeObjects: " << count << " objects on " << address << ": " << status;
                     }
                   }),
               kForwardTimeoutMs);
  return absl::OkStatus();
}

}  // namespace lumen::raylet
