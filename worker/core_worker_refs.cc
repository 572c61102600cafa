// CoreWorker: reference counting across processes (docs/objects.md,
// "Reference counting"). Three kinds of remote hold, all released through
// one long poll, WaitForRefRemoved, asked of the process whose use is
// waited for (an error, the process died, counts as an answer):
//   - a worker that ends a task still holding refs it does not own (an
//     actor keeps one, a task it submitted still runs with it) lists them
//     in the reply; the caller holds each for it and polls it;
//   - refs packed into a task's result are held by the executing worker
//     for the caller, and it polls the caller, whose result object holds
//     them in turn while it lives (AddContained);
//   - refs packed into a ray::Put value are held by that object.
// A process answers a poll for `id` once it holds `id` for nobody but the
// asker: two processes each holding a ref for the other do not wait on
// each other forever.
#include <algorithm>
#include <chrono>
#include <atomic>
#include <memory>

#include "worker/core_worker.h"

namespace lumen::worker {

void CoreWorker::AdoptContained(const ray::internal::RefData& outer,
                                const std::vector<ray::internal::RefData>& nested) {
  if (nested.empty()) return;
  std::vector<ObjectId> inner;
  inner.reserve(nested.size());
  for (const auto& n : nested) inner.push_back(ObjectId::FromBinaryOrNil(n.id));
  refs_.AddContained(ObjectId::FromBinaryOrNil(outer.id), inner);
  for (const ObjectId& id : inner) refs_.Remove(id);  // The packer's holds.
}

void CoreWorker::AfterTaskRefs(TaskRefScope& scope, rpc::PushTaskReply* reply) {
  const rpc::Address* caller = scope.caller;
  const std::string caller_id = caller != nullptr ? caller->worker_id() : std::string();
  const bool returned = reply->error().type() == rpc::ErrorInfo::NONE && reply->returns_size() > 0 &&
                        !caller_id.empty();
  if (returned && !scope.returned.empty()) {
    rpc::ReturnObject* ret = reply->mutable_returns(0);
    for (const ObjectId& id : scope.returned) {
      refs_.AddRemote(id, caller_id);
      ret->add_nested_ids(id.Binary());
    }
    // One poll for all of them: a result may hold thousands of refs.
    WatchHolder(*caller, scope.returned, ObjectId::FromBinaryOrNil(ret->object_id()),
                [this, ids = scope.returned, caller_id] {
                  for (const ObjectId& id : ids) refs_.RemoveRemote(id, caller_id);
                });
  }
  for (const ObjectId& id : scope.returned) refs_.Remove(id);  // The packer's holds (after AddRemote).
  std::vector<ObjectId>& seen = scope.seen;
  std::sort(seen.begin(), seen.end());
  seen.erase(std::unique(seen.begin(), seen.end()), seen.end());
  for (const ObjectId& id : seen) {
    if (refs_.CountExcept(id, caller_id) > 0) reply->add_borrowed_ids(id.Binary());
  }
  if (reply->borrowed_ids_size() > 0) *reply->mutable_borrower() = address_;
}

void CoreWorker::HoldForRemotes(rpc::PushTaskReply& reply) {
  const rpc::Address& borrower = reply.borrower();
  for (const auto& binary : reply.borrowed_ids()) {
    ObjectId id = ObjectId::FromBinaryOrNil(binary);
    refs_.AddRemote(id, borrower.worker_id());
    WatchHolder(borrower, {id}, ObjectId::Nil(),
                [this, id, holder = borrower.worker_id()] { refs_.RemoveRemote(id, holder); });
  }
  for (const auto& ret : reply.returns()) {
    if (ret.nested_ids_size() == 0) continue;
    std::vector<ObjectId> inner;
    for (const auto& binary : ret.nested_ids()) inner.push_back(ObjectId::FromBinaryOrNil(binary));
    refs_.AddContained(ObjectId::FromBinaryOrNil(ret.object_id()), inner);
  }
}

void CoreWorker::WatchHolder(const rpc::Address& holder, const std::vector<ObjectId>& ids,
                             const ObjectId& contained_in, std::function<void()> released) {
  auto request = std::make_shared<rpc::WaitForRefRemovedRequest>();
  for (const ObjectId& id : ids) request->add_object_ids(id.Binary());
  if (!contained_in.IsNil()) request->set_contained_in(contained_in.Binary());
  request->set_requester(options_.worker_id.Binary());
  AskHolder(holder, std::move(request), std::move(released), 0);
}

// A failed poll is asked again (a lost message, a busy peer) before the
// holder counts as dead: kHolderAttempts calls, 100 ms, 200 ms, ... apart.
// Cancelled (this process is stopping): released at once.
void CoreWorker::AskHolder(const rpc::Address& holder,
                           std::shared_ptr<rpc::WaitForRefRemovedRequest> request,
                           std::function<void()> released, int attempt) {
  clients_.Get(holder)->Call(
      &rpc::CoreWorkerService::Stub::async::WaitForRefRemoved, *request,
      std::function<void(absl::Status, rpc::WaitForRefRemovedReply&&)>(
          [this, holder, request, released = std::move(released), attempt](
              absl::Status status, rpc::WaitForRefRemovedReply&&) mutable {
            if (status.ok() || absl::IsCancelled(status) || attempt + 1 >= kHolderAttempts) {
              released();
              return;
            }
            loop_.RunAfter(std::chrono::milliseconds(100 << attempt),
                           [this, holder, request, released = std::move(released), attempt]() mutable {
                             AskHolder(holder, std::move(request), std::move(released), attempt + 1);
                           });
          }));
}

void CoreWorker::WhenAllReleased(const std::vector<ObjectId>& ids, const std::string& requester,
                                 std::function<void()> done) {
  auto left = std::make_shared<std::atomic<size_t>>(ids.size() + 1);
  auto one = [left, done = std::move(done)] {
    if (left->fetch_sub(1) == 1) done();
  };
  for (const ObjectId& id : ids) {
    if (!refs_.WhenReleased(id, requester, one)) one();
  }
  one();  // Not before every id is registered.
}

void CoreWorker::HandleWaitForRefRemoved(const rpc::WaitForRefRemovedRequest& request,
                                         rpc::Done done) {
  std::vector<ObjectId> ids;
  if (!request.object_id().empty()) ids.push_back(ObjectId::FromBinaryOrNil(request.object_id()));
  for (const auto& binary : request.object_ids()) ids.push_back(ObjectId::FromBinaryOrNil(binary));
  const ObjectId outer = ObjectId::FromBinaryOrNil(request.contained_in());
  const std::string requester = request.requester();
  auto poll = long_polls_.Track(std::move(done), nullptr);
  auto answer = [poll] {
    if (poll->Claim()) poll->Finish(absl::OkStatus());
  };
  // If the reply naming the ids is still on its way, the result is not
  // ready yet; once it is, the reply has added its holds.
  if (outer.IsNil() || !refs_.IsOwnedAndAlive(outer) || store_.GetIfReady(outer)) {
    WhenAllReleased(ids, requester, answer);
    return;
  }
  store_.OnReady(outer, [this, ids = std::move(ids), requester, answer](StoredObjectPtr) {
    WhenAllReleased(ids, requester, answer);
  });
}

void CoreWorker::HandleGetReferences(rpc::GetReferencesReply* reply) {
  // Sizes of values in this node's plasma store: one local lookup for all.
  std::vector<std::pair<ObjectId, rpc::ReferenceInfo*>> local_plasma;
  // Lineage's pins, read just after the table: the two reads are not one
  // snapshot, so a pin is capped at the holds the table counted.
  const std::vector<ReferenceTable::Info> snapshot = refs_.Snapshot();
  const auto pins = lineage_.PinCounts();
  for (const ReferenceTable::Info& info : snapshot) {
    rpc::ReferenceInfo* out = reply->add_references();
    out->set_object_id(info.id.Binary());
    out->set_owned(info.owned);
    out->set_count(info.count);
    out->set_task_args(info.task_args);
    if (auto pin = pins.find(info.id); pin != pins.end()) {
      out->set_lineage(std::min(pin->second, info.count - info.task_args));
    }
    out->set_in_plasma(info.in_plasma);
    if (StoredObjectPtr object = store_.GetIfReady(info.id)) {
      if (!object->in_plasma) {
        out->set_size(static_cast<int64_t>(object->data.size()));
      } else if (plasma_ && object->node_id == node_id_.Binary()) {
        local_plasma.emplace_back(info.id, out);
      }
    }
    for (const ObjectId& inner : info.contains) out->add_contains(inner.Binary());
    for (const std::string& holder : info.remote_holders) out->add_remote_holders(holder);
  }
  if (local_plasma.empty()) return;
  std::vector<ObjectId> ids;
  for (const auto& [id, out] : local_plasma) ids.push_back(id);
  auto buffers = plasma_->Get(ids, /*timeout_ms=*/0);
  if (!buffers.ok()) return;  // Sizes stay unknown.
  for (size_t i = 0; i < ids.size() && i < buffers->size(); ++i) {
    if (!(*buffers)[i].has_value()) continue;
    local_plasma[i].second->set_size(static_cast<int64_t>((*buffers)[i]->data_size));
    (void)plasma_->Release(ids[i]);
  }
}

}  // namespace lumen::worker
