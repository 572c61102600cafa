#include "worker/object_writer.h"

namespace lumen::worker {
namespace {

thread_local ResultTarget* t_target = nullptr;

}  // namespace

absl::Status WriteToPlasma(plasma::PlasmaClient& plasma, const ObjectId& id, size_t size,
                           const ray::internal::ValueWriter& write, std::string_view owner) {
  absl::StatusOr<plasma::MutableBuffer> buffer = plasma.Create(id, size, 0, /*pin=*/true, owner);
  if (!buffer.ok()) return buffer.status();
  try {
    write(reinterpret_cast<char*>(buffer->data));
  } catch (...) {
    (void)plasma.Abort(id);
    throw;
  }
  return plasma.Seal(id);
}

ScopedResultTarget::ScopedResultTarget(ResultTarget* target) : saved_(t_target) { t_target = target; }
ScopedResultTarget::~ScopedResultTarget() { t_target = saved_; }

ResultTarget* TakeResultTarget() {
  ResultTarget* target = t_target;
  t_target = nullptr;
  return target;
}

}  // namespace lumen::worker
