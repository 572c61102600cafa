#include "worker/lineage.h"

namespace lumen::worker {

bool Lineage::Keeps(const rpc::TaskSpec& spec) {
  return spec.actor_id().empty() && spec.attempt() < spec.max_retries();
}

std::vector<ObjectId> Lineage::PinnedArgs(const rpc::TaskSpec& spec) {
  std::vector<ObjectId> ids;
  for (const auto& arg : spec.args()) {
    if (arg.is_ref() && !arg.ref().object_id().empty()) ids.push_back(ObjectId::FromBinaryOrNil(arg.ref().object_id()));
  }
  return ids;
}

bool Lineage::Record(const ObjectId& id, const rpc::TaskSpec& spec, std::vector<ObjectId> pinned,
                     std::vector<ObjectId>* released) {
  const bool keep = Keeps(spec);
  absl::MutexLock lock(&mu_);
  if (!keep) {
    if (auto it = entries_.find(id); it != entries_.end()) {
      *released = std::move(it->second.pinned);
      entries_.erase(it);
      size_.fetch_sub(1, std::memory_order_relaxed);
    }
    return false;
  }
  auto [it, inserted] = entries_.try_emplace(id);
  if (inserted) size_.fetch_add(1, std::memory_order_relaxed);
  it->second.spec = spec;
  it->second.spec.clear_gpu_ids();  // A re-run's lease brings its own.
  it->second.running = false;
  *released = std::move(it->second.pinned);
  it->second.pinned = std::move(pinned);
  return true;
}

std::vector<ObjectId> Lineage::Drop(const ObjectId& id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it == entries_.end()) return {};
  std::vector<ObjectId> released = std::move(it->second.pinned);
  entries_.erase(it);
  size_.fetch_sub(1, std::memory_order_relaxed);
  return released;
}

absl::flat_hash_map<ObjectId, int, std::hash<ObjectId>> Lineage::PinCounts() const {
  absl::flat_hash_map<ObjectId, int, std::hash<ObjectId>> counts;
  absl::MutexLock lock(&mu_);
  for (const auto& [id, entry] : entries_) {
    for (const ObjectId& pinned : entry.pinned) ++counts[pinned];
  }
  return counts;
}

bool Lineage::IsRunning(const ObjectId& id) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.running;
}

Lineage::Rebuild Lineage::Begin(const ObjectId& id, const std::function<bool()>& still_lost,
                                const std::function<void()>& forget_lost) {
  Rebuild out;
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it != entries_.end() && it->second.running) {
    out.kind = Rebuild::kInProgress;
    return out;
  }
  if (!still_lost()) {
    out.kind = Rebuild::kReplaced;
    return out;
  }
  if (it == entries_.end()) {
    out.kind = Rebuild::kImpossible;
    out.why = id.Index() == 0 ? "put objects cannot be reconstructed"
                              : "no retries left (the task that made it used its max_retries, "
                                "or was an actor task)";
    return out;
  }
  rpc::TaskSpec& spec = it->second.spec;
  if (spec.attempt() >= spec.max_retries()) {  // Kept entries have one left; a guard.
    out.kind = Rebuild::kImpossible;
    out.why = "no retries left (" + std::to_string(spec.max_retries()) + " used)";
    return out;
  }
  spec.set_attempt(spec.attempt() + 1);
  it->second.running = true;
  forget_lost();
  out.kind = Rebuild::kResubmit;
  out.spec = spec;
  return out;
}

}  // namespace lumen::worker
