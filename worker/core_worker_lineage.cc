// CoreWorker: lineage reconstruction (docs/objects.md, "Lineage
// reconstruction"). The owner keeps the spec of each finished normal task
// whose result went to plasma while the result is in scope and the task
// has retries left (Lineage); a Get that cannot pull that result (its node
// died) has the task run again, and waits for the new value.
#include "common/logging.h"
#include "worker/core_worker.h"

namespace lumen::worker {

void CoreWorker::KeepLineage(const rpc::TaskSpec& spec) {
  ObjectId id = ObjectId::FromIndex(TaskId::FromBinaryOrNil(spec.task_id()), 1);
  // The arguments a re-run needs stay referenced while the entry lives:
  // held before it is stored (the task's own holds on them are still
  // taken), released only once it is gone.
  std::vector<ObjectId> pinned;
  if (Lineage::Keeps(spec)) {
    pinned = Lineage::PinnedArgs(spec);
    for (const ObjectId& arg : pinned) refs_.Add(arg);
  }
  std::vector<ObjectId> released;
  const int64_t evicted_before = lineage_.evicted_total();
  const bool kept = lineage_.Record(id, spec, std::move(pinned), &released);
  if (evicted_before == 0 && lineage_.evicted_total() > 0) {
    LOG(WARNING) << "lineage of this process reached " << lineage_.max_bytes()
                 << " bytes (LUMEN_MAX_LINEAGE_BYTES): the oldest task specs are evicted, and their results "
                    "can no longer be rebuilt if their node dies";
  }
  for (const ObjectId& arg : released) refs_.Remove(arg);
  // Like StoreIfReferenced: if the result went out of scope meanwhile, its
  // free callback may have run before the entry existed.
  if (kept && !refs_.IsReferenced(id)) DropLineage(id);
}

void CoreWorker::DropLineage(const ObjectId& id) {
  // A release may free an argument whose own entry goes in turn (OnFree):
  // outside Lineage's lock.
  for (const ObjectId& arg : lineage_.Drop(id)) refs_.Remove(arg);
}

absl::Status CoreWorker::RebuildLost(const ObjectId& id, const StoredObjectPtr& lost) {
  // Another node known to hold a copy serves first: no re-run.
  if (FailOverToCopy(id, lost)) return absl::OkStatus();
  Lineage::Rebuild rebuild = lineage_.Begin(
      id, [&] { return store_.GetIfReady(id) == lost; }, [&] { store_.Erase(id); });
  switch (rebuild.kind) {
    case Lineage::Rebuild::kImpossible:
      return absl::FailedPreconditionError(rebuild.why);
    case Lineage::Rebuild::kInProgress:
    case Lineage::Rebuild::kReplaced:
      return absl::OkStatus();
    case Lineage::Rebuild::kResubmit:
      break;
  }
  rpc::TaskSpec& spec = rebuild.spec;
  LOG(INFO) << "object " << id.Hex() << " was lost; running " << spec.function_name()
            << " again (attempt " << spec.attempt() << " of " << spec.max_retries() << " retries)";
  // The reply releases the arguments' references as for any task: take
  // them again. Inlined arguments travel in the spec; their ids only named
  // the references to release, which were released at the first reply.
  for (auto& arg : *spec.mutable_args()) {
    if (arg.is_ref()) {
      refs_.AddTaskArg(ObjectId::FromBinaryOrNil(arg.ref().object_id()));
    } else {
      arg.clear_ref();
    }
    arg.clear_nested_ids();
  }
  // Never blocks: this may run on a gRPC thread (a borrower's request),
  // and the spec is held already.
  in_flight_.AcquireUnbounded();
  task_events_->Submitted(spec);
  if (task_metrics_) task_metrics_->Submitted(spec.function_name());
  loop_.Post([this, spec = std::move(spec)]() mutable { submitter_->Submit(std::move(spec)); });
  return absl::OkStatus();
}

bool CoreWorker::OnLostCopy(const ObjectId& id, const std::string& lost_node,
                            rpc::GetObjectStatusReply* reply) {
  StoredObjectPtr current = store_.GetIfReady(id);
  // Only the copy we still record as the value's location: a borrower
  // that read an older location gets the newer one (no second re-run).
  if (!current || !current->in_plasma || current->node_id != lost_node) return true;
  absl::Status started = RebuildLost(id, current);
  if (started.ok()) return true;
  reply->set_status(rpc::GetObjectStatusReply::FAILED);
  rpc::ErrorInfo* error = reply->mutable_error();
  error->set_type(rpc::ErrorInfo::OBJECT_LOST);
  error->set_message("object " + id.Hex() + " is lost: its copy on node " +
                     NodeId::FromBinaryOrNil(lost_node).Hex() +
                     " cannot be read; it cannot be rebuilt: " + std::string(started.message()));
  return false;
}

}  // namespace lumen::worker
