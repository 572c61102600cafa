// The object entry points of include/ray/api/runtime.h that write values
// in place: ray::Put and task results serialized straight into the store.
#include <cstring>

#include "ray/api/runtime.h"
#include "worker/interrupt.h"
#include "worker/object_writer.h"
#include "worker/runtime_state.h"

namespace ray::internal {

RefData PutSerialized(size_t size, const ValueWriter& write) {
  lumen::worker::Runtime* rt = lumen::worker::g_runtime;
  if (!rt || !rt->core) {  // Local mode (no CoreWorker), or not initialized: PutObject says which.
    std::string data(size, '\0');
    write(data.data());
    return PutObject(std::move(data));
  }
  try {
    return rt->core->PutSerialized(size, write);
  } catch (...) {
    if (lumen::worker::InterruptInProgress()) lumen::worker::WaitForInterruptToEnd();
    throw;
  }
}

std::string SerializeResult(size_t size, const ValueWriter& write) {
  lumen::worker::ResultTarget* target = lumen::worker::TakeResultTarget();
  if (target != nullptr && size > target->min_size) {
    target->status = lumen::worker::WriteToPlasma(*target->plasma, target->id, size, write);
    target->written = true;
    target->size = size;
    return {};
  }
  std::string out(size, '\0');
  write(out.data());
  return out;
}

}  // namespace ray::internal
