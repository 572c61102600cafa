// CoreWorker: the owner's side of tasks (dependency resolution, replies,
// failures), answers to borrowers, and cluster resource queries.
#include <cstdio>

#include "common/logging.h"
#include "ray/api/ray_exception.h"
#include "worker/core_worker.h"

namespace lumen::worker {
namespace {

std::string FormatResources(const google::protobuf::Map<std::string, double>& resources) {
  std::string out = "{";
  for (const auto& [name, amount] : resources) {
    if (out.size() > 1) out += ", ";
    out += "'" + name + "': " + std::to_string(amount);
  }
  return out + "}";
}

}  // namespace

// Waits (on the loop) for the owned ObjectRef arguments of `spec`, inlines
// the small ones, then hands the task to the submitter (DependencyResolver).
void CoreWorker::ResolveDependencies(rpc::TaskSpec&& spec) { resolver_->Resolve(std::move(spec)); }

void CoreWorker::OnResolved(rpc::TaskSpec&& spec, bool had_refs) {
  // Only tasks with ObjectRef arguments wait for them: one event less for the rest.
  if (had_refs) task_events_->ArgsReady(spec);
  if (!spec.actor_id().empty()) {
    actor_submitter_->OnResolved(std::move(spec));
  } else {
    submitter_->Submit(std::move(spec));
  }
}

void CoreWorker::OnArgumentFailed(rpc::TaskSpec&& spec, const rpc::ErrorInfo& error) {
  if (!spec.actor_id().empty()) {
    actor_submitter_->OnResolved(std::move(spec), &error);
  } else {
    OnTaskFailure(spec, error);
  }
}

// The holds PrepareSpec (or a lineage re-run) took on the arguments, and
// those on the refs packed in their values.
static void ReleaseArgRefs(ReferenceTable& refs, const rpc::TaskSpec& spec) {
  for (const auto& arg : spec.args()) {
    if (!arg.ref().object_id().empty()) refs.RemoveTaskArg(ObjectId::FromBinaryOrNil(arg.ref().object_id()));
    for (const auto& id : arg.nested_ids()) refs.Remove(ObjectId::FromBinaryOrNil(id));
  }
}

void CoreWorker::OnTaskReply(const rpc::TaskSpec& spec, rpc::PushTaskReply&& reply,
                             const rpc::PushTasksReply& batch) {
  if (reply.borrowed_ids_size() > 0 || (reply.returns_size() > 0 && reply.returns(0).nested_ids_size() > 0)) {
    HoldForRemotes(reply);
  }
  task_events_->Replied(spec, reply, batch);
  if (task_metrics_) task_metrics_->Count(spec.function_name(), reply.error().type() != rpc::ErrorInfo::NONE);
  if (reply.error().type() != rpc::ErrorInfo::NONE) {
    ReleaseArgRefs(refs_, spec);
    StoreError(spec, reply.error());
    if (!lineage_.Empty()) DropLineage(ObjectId::FromIndex(TaskId::FromBinaryOrNil(spec.task_id()), 1));
  } else {
    bool in_plasma = false;
    for (auto& ret : *reply.mutable_returns()) {
      in_plasma |= ret.in_plasma();
      ObjectId id = ObjectId::FromBinaryOrNil(ret.object_id());
      auto object = std::make_shared<StoredObject>();
      object->in_plasma = ret.in_plasma();
      object->node_id = ret.node_id();
      object->data = std::move(*ret.mutable_data());
      if (object->in_plasma) {
        refs_.MarkInPlasma(id);
        // On another node: hear of that node's death (core_worker_locations.cc).
        if (object->node_id != node_id_.Binary()) WatchNodeDeaths();
      }
      bool kept = StoreIfReferenced(store_, refs_, id, std::move(object));
      // Nobody holds the result any more: its plasma copy goes too.
      if (!kept && ret.in_plasma() && plasma_) (void)plasma_->Delete({id});
    }
    // After the value is stored: a Get waiting on a re-run reads it first.
    // Before the arguments' holds go: lineage pins them.
    if (in_plasma && spec.actor_id().empty()) KeepLineage(spec);
    ReleaseArgRefs(refs_, spec);
  }
  in_flight_.Release();
}

void CoreWorker::OnTaskFailure(const rpc::TaskSpec& spec, const rpc::ErrorInfo& error) {
  task_events_->Ended(spec, error);
  if (task_metrics_) task_metrics_->Count(spec.function_name(), /*failed=*/true);
  ReleaseArgRefs(refs_, spec);
  StoreError(spec, error);
  if (!lineage_.Empty()) DropLineage(ObjectId::FromIndex(TaskId::FromBinaryOrNil(spec.task_id()), 1));
  in_flight_.Release();
}

void CoreWorker::StoreError(const rpc::TaskSpec& spec, const rpc::ErrorInfo& error) {
  ObjectId id = ObjectId::FromIndex(TaskId::FromBinaryOrNil(spec.task_id()), 1);
  auto object = std::make_shared<StoredObject>();
  object->error = error;
  StoreIfReferenced(store_, refs_, id, std::move(object));
}

void CoreWorker::HandleGetObjectStatus(const rpc::GetObjectStatusRequest& request,
                                       rpc::GetObjectStatusReply* reply, rpc::Done done) {
  ObjectId id = ObjectId::FromBinaryOrNil(request.object_id());
  if (!request.lost_node_id().empty() && !OnLostCopy(id, request.lost_node_id(), reply)) {
    done(absl::OkStatus());  // It cannot be rebuilt: the reply says why.
    return;
  }
  if (!refs_.IsOwnedAndAlive(id) && !store_.GetIfReady(id)) {
    reply->set_status(rpc::GetObjectStatusReply::OUT_OF_SCOPE);
    done(absl::OkStatus());
    return;
  }
  NodeId node = node_id_;
  auto poll = long_polls_.Track(std::move(done), [reply] {
    reply->set_status(rpc::GetObjectStatusReply::OUT_OF_SCOPE);  // This process is stopping.
  });
  store_.OnReady(id, [reply, poll, node, id](StoredObjectPtr object) {
    if (!poll->Claim()) return;  // Answered at shutdown.
    if (!object) {
      // The owner's last reference went away before the value arrived.
      reply->set_status(rpc::GetObjectStatusReply::OUT_OF_SCOPE);
    } else if (object->IsError()) {
      reply->set_status(rpc::GetObjectStatusReply::FAILED);
      *reply->mutable_error() = object->error;
    } else {
      reply->set_status(rpc::GetObjectStatusReply::READY);
      rpc::ReturnObject* out = reply->mutable_object();
      out->set_object_id(id.Binary());
      out->set_in_plasma(object->in_plasma);
      // Where the value lives: the node that ran its task (or ours, for a Put).
      if (object->in_plasma) {
        out->set_node_id(object->node_id.empty() ? node.Binary() : object->node_id);
      } else {
        out->set_data(object->data);
      }
    }
    poll->Finish(absl::OkStatus());
  });
}

std::unordered_map<std::string, double> CoreWorker::Resources(bool available) {
  auto reply = gcs_->CallSync(&rpc::GcsService::Stub::GetClusterResources,
                              rpc::GetClusterResourcesRequest(), 10000);
  if (!reply.ok()) {
    throw ray::internal::RayException("cannot read cluster resources from the GCS: " +
                                      reply.status().ToString());
  }
  std::unordered_map<std::string, double> total;
  for (const auto& view : reply->views()) {
    for (const auto& [name, amount] : available ? view.available() : view.total()) total[name] += amount;
  }
  return total;
}

void CoreWorker::WarnIfInfeasible(const rpc::TaskSpec& spec) {
  // A task in a placement group asks for its bundle's resources, which a
  // node gains only once the group is committed there (and reported a
  // moment later): not a sign that no node can ever run it.
  if (!spec.placement_group_id().empty()) return;
  std::string shape = FormatResources(spec.required_resources());
  gcs_->Call(&rpc::GcsService::Stub::async::GetClusterResources, rpc::GetClusterResourcesRequest(),
             std::function<void(absl::Status, rpc::GetClusterResourcesReply&&)>(
                 [this, spec, shape](absl::Status status, rpc::GetClusterResourcesReply&& reply) {
                   if (!status.ok()) return;
                   for (const auto& view : reply.views()) {
                     bool fits = true;
                     for (const auto& [name, amount] : spec.required_resources()) {
                       auto it = view.total().find(name);
                       fits &= amount <= 0 || (it != view.total().end() && it->second >= amount);
                     }
                     if (fits) return;
                   }
                   std::fprintf(stderr,
                                "Warning: the task %s requires %s, which no node in the cluster "
                                "has; it stays pending until such a node joins.\n",
                                spec.function_name().c_str(), shape.c_str());
                   // Such tasks do not count against submission backpressure.
                   loop_.Post([this, spec] { submitter_->MarkInfeasible(spec); });
                 }));
}

}  // namespace lumen::worker
