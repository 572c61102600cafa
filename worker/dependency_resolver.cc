#include "worker/dependency_resolver.h"

#include "common/id.h"

namespace lumen::worker {

void DependencyResolver::Resolve(rpc::TaskSpec&& spec) {
  for (int i = 0; i < spec.args_size(); ++i) {
    rpc::TaskArg* arg = spec.mutable_args(i);
    if (!arg->is_ref() || arg->ref().owner().worker_id() != self_) continue;
    ObjectId id = ObjectId::FromBinaryOrNil(arg->ref().object_id());
    StoredObjectPtr object = store_.GetIfReady(id);
    if (!object) {
      // Not ready: come back (on the loop) when it is.
      store_.OnReady(id, [this, spec = std::move(spec)](StoredObjectPtr) mutable {
        loop_.Post([this, spec = std::move(spec)]() mutable { Resolve(std::move(spec)); });
      });
      return;
    }
    if (object->IsError()) {
      callbacks_.on_failed(std::move(spec), object->error);
      return;
    }
    if (!object->in_plasma) {
      arg->set_is_ref(false);
      arg->set_inline_value(object->data);
      arg->clear_ref();
      // Keep the id so the reference taken at submission can be dropped.
      arg->mutable_ref()->set_object_id(id.Binary());
    }
  }
  bool had_refs = false;
  for (const auto& arg : spec.args()) had_refs |= !arg.ref().object_id().empty();
  callbacks_.on_resolved(std::move(spec), had_refs);
}

}  // namespace lumen::worker
