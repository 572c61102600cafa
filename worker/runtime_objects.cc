// The object entry points of include/ray/api/runtime.h that write values
// in place: ray::Put and task results serialized straight into the store.
// Both note the ObjectRefs the value packs (object_ref.h, g_packed_refs):
// a Put object holds them while it lives; a task result hands them to the
// task's reply (worker/reference_table.h, TaskRefScope).
#include <cstring>
#include <vector>

#include "ray/api/object_ref.h"
#include "ray/api/runtime.h"
#include "worker/interrupt.h"
#include "worker/object_writer.h"
#include "worker/reference_table.h"
#include "worker/runtime_state.h"

namespace ray::internal {
namespace {

// Packs with `write`, collecting the refs the value holds into `nested`
// (each with a local reference of its own, taken by the packer).
ValueWriter Collecting(const ValueWriter& write, std::vector<RefData>* nested) {
  return [&write, nested](char* dest) {
    std::vector<RefData>* saved = g_packed_refs;
    g_packed_refs = nested;
    try {
      write(dest);
    } catch (...) {
      g_packed_refs = saved;
      throw;
    }
    g_packed_refs = saved;
  };
}

}  // namespace

RefData PutSerialized(size_t size, const ValueWriter& write) {
  lumen::worker::Runtime* rt = lumen::worker::g_runtime;
  if (!rt || !rt->core) {  // Local mode (no CoreWorker), or not initialized: PutObject says which.
    std::string data(size, '\0');
    write(data.data());
    return PutObject(std::move(data));
  }
  std::vector<RefData> nested;
  try {
    RefData ref = rt->core->PutSerialized(size, Collecting(write, &nested));
    rt->core->AdoptContained(ref, nested);
    return ref;
  } catch (...) {
    for (const RefData& n : nested) rt->core->RemoveLocalRef(n.id);
    if (lumen::worker::InterruptInProgress()) lumen::worker::WaitForInterruptToEnd();
    throw;
  }
}

std::string SerializeResult(size_t size, const ValueWriter& write) {
  lumen::worker::ResultTarget* target = lumen::worker::TakeResultTarget();
  lumen::worker::TaskRefScope* scope = lumen::worker::TaskRefScope::Current();
  std::vector<RefData> nested;
  const ValueWriter& writer = scope != nullptr ? Collecting(write, &nested) : write;
  std::string out;
  if (target != nullptr && size > target->min_size) {
    target->status = lumen::worker::WriteToPlasma(*target->plasma, target->id, size, writer, target->owner);
    target->written = true;
    target->size = size;
  } else {
    out.assign(size, '\0');
    writer(out.data());
  }
  // Each keeps the reference the packer took until the reply is built.
  for (const RefData& n : nested) scope->returned.push_back(lumen::ObjectId::FromBinaryOrNil(n.id));
  return out;
}

}  // namespace ray::internal
