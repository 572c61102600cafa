#include "worker/object_getter.h"

#include <algorithm>

#include "common/logging.h"
#include "ray/api/ray_exception.h"

namespace lumen::worker {
namespace {

thread_local bool t_in_task = false;

class InlineBuffer : public ray::internal::Buffer {
 public:
  explicit InlineBuffer(StoredObjectPtr object) : object_(std::move(object)) {}
  const char* data() const override { return object_->data.data(); }
  size_t size() const override { return object_->data.size(); }

 private:
  StoredObjectPtr object_;
};

// A sealed plasma object mapped into this process; released when dropped.
class PlasmaBuffer : public ray::internal::Buffer {
 public:
  PlasmaBuffer(std::shared_ptr<plasma::PlasmaClient> client, ObjectId id, plasma::ObjectBuffer b)
      : client_(std::move(client)), id_(id), buffer_(b) {}
  ~PlasmaBuffer() override { (void)client_->Release(id_); }
  const char* data() const override { return reinterpret_cast<const char*>(buffer_.data); }
  size_t size() const override { return buffer_.data_size; }

 private:
  std::shared_ptr<plasma::PlasmaClient> client_;
  ObjectId id_;
  plasma::ObjectBuffer buffer_;
};

rpc::Address ParseOwner(const std::string& owner) {
  rpc::Address address;
  address.ParseFromString(owner);
  return address;
}

// The error of an object whose owner cannot be reached (its process is gone).
rpc::ErrorInfo OwnerDiedError(const ObjectId& id, const rpc::Address& owner, const absl::Status& status) {
  rpc::ErrorInfo error;
  error.set_type(rpc::ErrorInfo::OWNER_DIED);
  error.set_message("owner died: object " + id.Hex() + " was lost with its owner, the worker at " +
                    owner.ip() + ":" + std::to_string(owner.port()) +
                    ", which cannot be reached (" + std::string(status.message()) +
                    "); an object lives only as long as the process that created it (ray::Put) "
                    "or submitted the task that returned it");
  return error;
}

}  // namespace

bool StoreIfReferenced(MemoryStore& store, const ReferenceTable& refs, const ObjectId& id,
                       StoredObjectPtr object) {
  store.Put(id, std::move(object));
  if (refs.IsReferenced(id)) return true;
  store.Erase(id);
  return false;
}

void ThrowTaskError(const rpc::ErrorInfo& error) {
  const std::string& msg = error.message();
  switch (error.type()) {
    case rpc::ErrorInfo::TASK_EXCEPTION:
      throw ray::internal::RayTaskException(msg);
    case rpc::ErrorInfo::WORKER_DIED:
      throw ray::internal::RayWorkerException(msg);
    case rpc::ErrorInfo::FUNCTION_NOT_FOUND:
      throw ray::internal::RayFunctionNotFound(msg);
    case rpc::ErrorInfo::OBJECT_LOST:
      throw ray::internal::UnreconstructableException(msg);
    case rpc::ErrorInfo::ACTOR_DIED:
      throw ray::internal::RayActorException(msg);
    case rpc::ErrorInfo::OWNER_DIED:
      throw ray::internal::OwnerDiedException(msg);
    default:
      throw ray::internal::RayException(msg);
  }
}

ObjectGetter::ObjectGetter(EventLoop& loop, MemoryStore& store, ReferenceTable& refs,
                           std::shared_ptr<plasma::PlasmaClient> plasma, ClientPool& owners,
                           WorkerId self, std::function<void(bool)> notify_blocked)
    : loop_(loop),
      store_(store),
      refs_(refs),
      plasma_(std::move(plasma)),
      owners_(owners),
      self_(self),
      notify_blocked_(std::move(notify_blocked)) {}

void ObjectGetter::SetInTask(bool in_task) { t_in_task = in_task; }
bool ObjectGetter::InTask() { return t_in_task; }

std::vector<ObjectId> ObjectGetter::Prepare(const ray::internal::RefList& refs,
                                            HeldRefs* held) {
  std::vector<ObjectId> ids;
  ids.reserve(refs.size());
  for (const ray::internal::RefData* ref : refs) {
    auto id = ObjectId::FromBinary(ref->id);
    if (!id.ok()) throw ray::internal::RayException("invalid ObjectRef: " + id.status().ToString());
    ids.push_back(*id);
    if (store_.GetIfReady(*id) || refs_.IsOwnedAndAlive(*id)) continue;
    rpc::Address owner = ParseOwner(ref->owner);
    if (owner.worker_id() == self_.Binary()) {
      // Owned by us but already freed: nothing will ever arrive.
      rpc::ErrorInfo error;
      error.set_type(rpc::ErrorInfo::OBJECT_LOST);
      error.set_message("object " + id->Hex() + " was freed: no ObjectRef to it was alive");
      auto lost = std::make_shared<StoredObject>();
      lost->error = error;
      store_.Put(*id, lost);
      continue;
    }
    held->Add(*id);
    FetchFromOwner(*id, owner);
  }
  return ids;
}

void ObjectGetter::FetchFromOwner(const ObjectId& id, const rpc::Address& owner) {
  {
    absl::MutexLock lock(&mu_);
    if (!fetching_.insert(id).second) return;
  }
  AskOwner(id, owner, 0);
}

void ObjectGetter::AskOwner(const ObjectId& id, const rpc::Address& owner, int attempt) {
  rpc::GetObjectStatusRequest request;
  request.set_object_id(id.Binary());
  request.set_timeout_ms(-1);
  owners_.Get(owner)->Call(
      &rpc::CoreWorkerService::Stub::async::GetObjectStatus, request,
      std::function<void(absl::Status, rpc::GetObjectStatusReply&&)>(
          [this, id, owner, attempt](absl::Status status, rpc::GetObjectStatusReply&& reply) {
            // A busy owner may be slow to accept: retry before calling it lost.
            if (absl::IsUnavailable(status) && attempt + 1 < kOwnerAttempts) {
              loop_.RunAfter(std::chrono::milliseconds(100 << attempt),
                             [this, id, owner, attempt] { AskOwner(id, owner, attempt + 1); });
              return;
            }
            {
              absl::MutexLock lock(&mu_);
              fetching_.erase(id);
            }
            StoreIfReferenced(store_, refs_, id, FromOwnerReply(id, owner, status, reply));
          }));
}

StoredObjectPtr ObjectGetter::FromOwnerReply(const ObjectId& id, const rpc::Address& owner,
                                             const absl::Status& status,
                                             rpc::GetObjectStatusReply& reply) {
  auto object = std::make_shared<StoredObject>();
  if (!status.ok()) {
    object->error = OwnerDiedError(id, owner, status);
  } else if (reply.status() == rpc::GetObjectStatusReply::READY) {
    object->in_plasma = reply.object().in_plasma();
    object->node_id = reply.object().node_id();
    object->data = std::move(*reply.mutable_object()->mutable_data());
  } else if (reply.status() == rpc::GetObjectStatusReply::FAILED) {
    object->error = reply.error();
  } else {
    object->error.set_type(rpc::ErrorInfo::OBJECT_LOST);
    object->error.set_message("object " + id.Hex() + " is no longer referenced by its owner");
  }
  return object;
}

std::shared_ptr<ray::internal::Buffer> ObjectGetter::ToBuffer(const ObjectId& id,
                                                              const StoredObjectPtr& given,
                                                              int64_t timeout_ms,
                                                              const std::string& owner) {
  StoredObjectPtr object = given;
  for (int rebuilds = 0;; ++rebuilds) {
    if (object->IsError()) ThrowTaskError(object->error);
    if (!object->in_plasma) return std::make_shared<InlineBuffer>(object);
    absl::Status pulled = PullIfRemote(id, *object, timeout_ms, owner);
    if (pulled.ok()) break;
    // A pull cut short by the Get's own timeout says nothing about a loss.
    if (rebuilds >= kMaxRebuildsPerGet || absl::IsDeadlineExceeded(pulled)) {
      throw ray::internal::UnreconstructableException("object " + id.Hex() + " is lost: " +
                                                      std::string(pulled.message()));
    }
    object = Rebuild(id, object, pulled, timeout_ms, owner);
  }
  const int64_t total = timeout_ms < 0 ? 10000 : timeout_ms;
  // A borrowed object missing from the store may have gone with its owner
  // (the store deletes a dead owner's primaries): ask the owner between
  // slices of the wait rather than wait the whole time for nothing.
  const bool borrowed = !refs_.IsOwnedAndAlive(id);
  for (int64_t waited = 0;;) {
    const int64_t slice = borrowed ? std::min<int64_t>(kOwnerCheckMs, total - waited) : total - waited;
    auto got = plasma_->Get({id}, slice);
    if (got.ok() && (*got)[0]) return std::make_shared<PlasmaBuffer>(plasma_, id, *(*got)[0]);
    waited += slice;
    if (borrowed) CheckOwner(id, ParseOwner(owner));  // Deleted with its owner?
    if (!got.ok() || waited >= total) {
      throw ray::internal::UnreconstructableException(
          "object " + id.Hex() + " is not in the local object store" +
          (got.ok() ? std::string() : ": " + got.status().ToString()));
    }
  }
}

absl::Status ObjectGetter::PullIfRemote(const ObjectId& id, const StoredObject& object,
                                        int64_t timeout_ms, const std::string& owner) {
  if (!pull_ || object.node_id.empty() || object.node_id == local_node_id_) return absl::OkStatus();
  auto here = plasma_->Contains(id);
  if (here.ok() && *here) return absl::OkStatus();
  absl::Status pulled = pull_(id, object.node_id, timeout_ms < 0 ? kPullTimeoutMs : timeout_ms);
  if (pulled.ok()) {
    if (pulled_) pulled_(id, owner);
    return pulled;
  }
  if (!refs_.IsOwnedAndAlive(id)) CheckOwner(id, ParseOwner(owner));  // Gone with its owner?
  return pulled;
}

StoredObjectPtr ObjectGetter::Rebuild(const ObjectId& id, const StoredObjectPtr& lost,
                                      const absl::Status& pulled, int64_t timeout_ms,
                                      const std::string& owner) {
  const std::string what = "object " + id.Hex() + " is lost: " + std::string(pulled.message());
  if (!refs_.IsOwnedAndAlive(id)) return AskOwnerToRebuild(id, *lost, what, timeout_ms, owner);
  if (!rebuild_) throw ray::internal::UnreconstructableException(what);
  absl::Status started = rebuild_(id, lost);
  if (!started.ok()) {
    throw ray::internal::UnreconstructableException(what + "; it cannot be rebuilt: " +
                                                    std::string(started.message()));
  }
  LOG(INFO) << "object " << id.Hex() << " was lost (" << pulled.message()
            << "); waiting for another copy or for the task that made it to run again";
  const bool notify = t_in_task && notify_blocked_;
  if (notify) notify_blocked_(true);
  StoredObjectPtr again = store_.Wait({id}, timeout_ms)[0];
  if (notify) notify_blocked_(false);
  if (!again) {
    throw ray::internal::RayTimeoutException("Get timed out: object " + id.Hex() +
                                             " was lost and its task, run again, did not finish in " +
                                             std::to_string(timeout_ms) + " ms");
  }
  return again;
}

StoredObjectPtr ObjectGetter::AskOwnerToRebuild(const ObjectId& id, const StoredObject& lost,
                                                const std::string& what, int64_t timeout_ms,
                                                const std::string& owner_blob) {
  const rpc::Address owner = ParseOwner(owner_blob);
  rpc::GetObjectStatusRequest request;
  request.set_object_id(id.Binary());
  request.set_timeout_ms(-1);
  request.set_lost_node_id(lost.node_id);
  LOG(INFO) << what << "; asking its owner at " << owner.ip() << ":" << owner.port()
            << " to rebuild it";
  const bool notify = t_in_task && notify_blocked_;
  if (notify) notify_blocked_(true);
  auto reply = owners_.Get(owner)->CallSync(&rpc::CoreWorkerService::Stub::GetObjectStatus, request,
                                            timeout_ms < 0 ? kPullTimeoutMs : timeout_ms);
  if (notify) notify_blocked_(false);
  if (absl::IsUnavailable(reply.status())) ThrowTaskError(OwnerDiedError(id, owner, reply.status()));
  if (!reply.ok()) {
    throw ray::internal::UnreconstructableException(what + "; its owner did not rebuild it: " +
                                                    reply.status().ToString());
  }
  StoredObjectPtr again = FromOwnerReply(id, owner, reply.status(), *reply);
  if (again->IsError()) ThrowTaskError(again->error);
  store_.Put(id, again);  // Replaces the lost location cached here.
  return again;
}

void ObjectGetter::CheckOwner(const ObjectId& id, const rpc::Address& owner) {
  rpc::GetObjectStatusRequest request;
  request.set_object_id(id.Binary());
  request.set_timeout_ms(0);
  auto reply = owners_.Get(owner)->CallSync(&rpc::CoreWorkerService::Stub::GetObjectStatus, request,
                                            kOwnerCheckMs);
  if (absl::IsUnavailable(reply.status())) ThrowTaskError(OwnerDiedError(id, owner, reply.status()));
  if (reply.ok() && reply->status() == rpc::GetObjectStatusReply::OUT_OF_SCOPE) {
    throw ray::internal::UnreconstructableException("object " + id.Hex() +
                                                    " was freed: its owner holds no reference to it");
  }
}

std::vector<std::shared_ptr<ray::internal::Buffer>> ObjectGetter::Get(
    const ray::internal::RefList& refs, int64_t timeout_ms) {
  HeldRefs held(refs_);
  std::vector<ObjectId> ids = Prepare(refs, &held);
  std::vector<StoredObjectPtr> objects = store_.Wait(ids, 0);
  bool all_ready = true;
  for (const auto& o : objects) all_ready &= o != nullptr;
  if (!all_ready) {
    bool notify = t_in_task && notify_blocked_;
    if (notify) notify_blocked_(true);
    objects = store_.Wait(ids, timeout_ms);
    if (notify) notify_blocked_(false);
  }
  std::vector<std::shared_ptr<ray::internal::Buffer>> out;
  out.reserve(ids.size());
  size_t missing = 0;
  for (const auto& o : objects) missing += o == nullptr;
  if (missing > 0) {
    throw ray::internal::RayTimeoutException(
        "Get timed out: " + std::to_string(missing) + " of " + std::to_string(ids.size()) +
        " objects not ready after " + std::to_string(timeout_ms) + " ms");
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    out.push_back(ToBuffer(ids[i], objects[i], timeout_ms, refs[i]->owner));
  }
  return out;
}

std::vector<bool> ObjectGetter::Wait(const ray::internal::RefList& refs,
                                     int num_objects, int64_t timeout_ms) {
  std::vector<ObjectId> ids;
  ids.reserve(refs.size());
  for (const ray::internal::RefData* ref : refs) ids.push_back(ObjectId::FromBinaryOrNil(ref->id));
  // Enough ready already (the common case in a wait loop): no fetches needed.
  std::vector<bool> ready = store_.WaitAny(ids, num_objects, 0);
  int count = 0;
  for (bool r : ready) count += r;
  if (count >= num_objects) return ready;
  HeldRefs held(refs_);
  Prepare(refs, &held);
  bool notify = t_in_task && notify_blocked_;
  if (notify) notify_blocked_(true);
  ready = store_.WaitAny(ids, num_objects, timeout_ms);
  if (notify) notify_blocked_(false);
  return ready;
}

}  // namespace lumen::worker
