// CoreWorker: where copies of owned objects live, and freeing them
// (docs/objects.md, "Between nodes"). The process that asked its raylet to
// pull an object tells the owner (AddObjectLocation): it already has the
// owner's address and a channel to it, while the raylet knows neither, and
// the report then costs one small call per pull, next to a transfer of at
// least the inline limit (100 KiB). It is made before the Get returns, so
// once a task that read the object has ended, its owner knows the copy.
// The owner keeps copies in ObjectLocations, falls back to one when the
// recorded copy is lost (before any lineage re-run), and, when the object
// goes out of scope, has each node holding it delete it: one FreeObjects
// call per node and batch, through this node's raylet, which forwards it.
#include "common/logging.h"
#include "worker/core_worker.h"

namespace lumen::worker {
namespace {

constexpr int64_t kReportTimeoutMs = 2000;
// PollNodeChanges: the GCS answers within this (it caps the wait at 30 s);
// the call's deadline leaves it room. A failed poll is retried after a pause.
constexpr int64_t kNodePollMs = 20000;
constexpr int64_t kNodePollDeadlineMs = kNodePollMs + 10000;
constexpr auto kNodePollRetry = std::chrono::seconds(1);

}  // namespace

void CoreWorker::OnPulled(const ObjectId& id, const std::string& owner_blob) {
  if (refs_.IsOwnedAndAlive(id)) {
    // A copy on our own node: OnFree's local Delete frees it.
    locations_.Add(id, node_id_.Binary());
    if (!refs_.IsOwnedAndAlive(id)) (void)locations_.Take(id);  // Freed meanwhile.
    return;
  }
  rpc::Address owner;
  if (!owner.ParseFromString(owner_blob) || owner.worker_id() == options_.worker_id.Binary()) return;
  rpc::AddObjectLocationRequest request;
  request.set_object_id(id.Binary());
  request.set_node_id(node_id_.Binary());
  // Best effort: an owner that does not answer has the copy freed by
  // eviction, and falls back to rebuilding it, as before.
  auto reply = clients_.Get(owner)->CallSync(&rpc::CoreWorkerService::Stub::AddObjectLocation, request,
                                             kReportTimeoutMs);
  if (!reply.ok()) {
    VLOG(1) << "could not tell the owner of object " << id.Hex() << " of its copy here: "
            << reply.status();
  }
}

void CoreWorker::HandleAddObjectLocation(const rpc::AddObjectLocationRequest& request) {
  ObjectId id = ObjectId::FromBinaryOrNil(request.object_id());
  const std::string& node = request.node_id();
  if (node.size() != NodeId::Nil().Binary().size() || !refs_.IsOwnedAndAlive(id)) return;
  StoredObjectPtr object = store_.GetIfReady(id);
  if (!object || !object->in_plasma || object->node_id == node) return;  // Not a new copy.
  locations_.Add(id, node);
  if (node != node_id_.Binary()) WatchNodeDeaths();
  if (refs_.IsOwnedAndAlive(id)) return;
  // Freed while we added it: OnFree found nothing to free there.
  for (const std::string& holder : locations_.Take(id)) {
    if (holder != node_id_.Binary() && remote_frees_.Add(holder, id)) {
      loop_.Post([this] { FlushRemoteFrees(); });
    }
  }
}

bool CoreWorker::FailOverToCopy(const ObjectId& id, const StoredObjectPtr& lost) {
  if (locations_.Empty() || !lost || !lost->in_plasma) return false;
  std::optional<std::string> copy = locations_.FailOver(
      id, lost->node_id, [&] { return store_.GetIfReady(id) == lost; },
      [&](const std::string& node) {
        auto moved = std::make_shared<StoredObject>(*lost);
        moved->node_id = node;
        store_.Put(id, std::move(moved));
      });
  if (!copy) return false;
  LOG(INFO) << "object " << id.Hex() << ": its copy on node " << NodeId::FromBinaryOrNil(lost->node_id).Hex()
            << " is lost; reading the copy on node " << NodeId::FromBinaryOrNil(*copy).Hex() << " instead";
  return true;
}

void CoreWorker::FreeCopies(const ObjectId& id, const StoredObjectPtr& object) {
  std::vector<std::string> nodes;
  if (!locations_.Empty()) nodes = locations_.Take(id);
  if (object && object->in_plasma) nodes.push_back(object->node_id);
  bool flush = false;
  for (const std::string& node : nodes) {
    // Our own node's copy goes by OnFree's local Delete.
    if (node.empty() || node == node_id_.Binary()) continue;
    flush |= remote_frees_.Add(node, id);
  }
  if (flush) loop_.Post([this] { FlushRemoteFrees(); });
}

void CoreWorker::FlushRemoteFrees() {
  remote_frees_.Flush([this](const std::string& node, std::vector<ObjectId> ids) {
    rpc::FreeObjectsRequest request;
    request.set_node_id(node);
    for (const ObjectId& id : ids) request.add_object_ids(id.Binary());
    raylet_->Call(&rpc::RayletService::Stub::async::FreeObjects, request,
                  std::function<void(absl::Status, rpc::FreeObjectsReply&&)>(
                      [node, count = ids.size()](absl::Status status, rpc::FreeObjectsReply&&) {
                        if (!status.ok()) {
                          VLOG(1) << "freeing " << count << " objects on node "
                                  << NodeId::FromBinaryOrNil(node).Hex() << ": " << status;
                        }
                      }),
                  kReportTimeoutMs);
  });
}

void CoreWorker::WatchNodeDeaths() {
  if (watching_nodes_.load(std::memory_order_relaxed) || watching_nodes_.exchange(true)) return;
  loop_.Post([this] { PollNodeDeaths(); });
}

void CoreWorker::PollNodeDeaths() {
  rpc::PollNodeChangesRequest request;
  request.set_after_seq(node_seq_);
  request.set_timeout_ms(kNodePollMs);
  gcs_->Call(&rpc::GcsService::Stub::async::PollNodeChanges, request,
             std::function<void(absl::Status, rpc::PollNodeChangesReply&&)>(
                 [this](absl::Status status, rpc::PollNodeChangesReply&& reply) {
                   if (!status.ok()) {
                     // The GCS restarting, or this process shutting down
                     // (then the loop runs nothing more).
                     VLOG(1) << "polling the GCS for node changes: " << status;
                     loop_.RunAfter(kNodePollRetry, [this] { PollNodeDeaths(); });
                     return;
                   }
                   node_seq_ = reply.last_seq();
                   for (const rpc::NodeChange& change : reply.changes()) {
                     if (change.node().state() == rpc::NodeInfo::DEAD) OnNodeDead(change.node().node_id());
                   }
                   PollNodeDeaths();
                 }),
             kNodePollDeadlineMs);
}

void CoreWorker::OnNodeDead(const std::string& node) {
  if (node == node_id_.Binary() || !dead_nodes_.insert(node).second) return;
  const size_t copies = locations_.Empty() ? 0 : locations_.ForgetNode(node);
  size_t recovered = 0, unrecoverable = 0;
  for (auto& [id, object] : store_.InPlasmaOn(node)) {
    if (!refs_.IsOwnedAndAlive(id)) continue;  // A borrowed value: its owner sees to it.
    // Another copy becomes its location, or its task runs again (as a Get
    // that found it lost would have it); a put, or a task without retries
    // left, stays as it is, and a Get of it says why it is lost.
    if (RebuildLost(id, object).ok()) {
      ++recovered;
    } else {
      ++unrecoverable;
    }
  }
  if (copies + recovered + unrecoverable > 0) {
    LOG(INFO) << "node " << NodeId::FromBinaryOrNil(node).Hex() << " died: " << copies
              << " copies there forgotten; of the owned objects stored there, " << recovered
              << " read elsewhere or being rebuilt, " << unrecoverable << " lost";
  }
}

}  // namespace lumen::worker
