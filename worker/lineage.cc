#include "worker/lineage.h"

#include <cstdlib>

#include "absl/strings/numbers.h"

namespace lumen::worker {

size_t Lineage::MaxBytesFromEnv() {
  for (const char* name : {"LUMEN_MAX_LINEAGE_BYTES", "RAY_max_lineage_bytes"}) {
    const char* value = std::getenv(name);
    uint64_t bytes = 0;
    if (value != nullptr && absl::SimpleAtoi(value, &bytes)) return bytes;
  }
  return kDefaultMaxBytes;
}

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
  evicted_.erase(id);
  auto it = entries_.find(id);
  if (!keep) {
    if (it != entries_.end()) Erase(it, released);
    UpdateSize();
    return false;
  }
  if (it == entries_.end()) {
    it = entries_.try_emplace(id).first;
    it->second.order = order_.insert(order_.end(), id);
  } else {  // A re-run's reply: kept as the newest.
    bytes_ -= it->second.bytes;
    order_.splice(order_.end(), order_, it->second.order);
  }
  Entry& entry = it->second;
  entry.spec = spec;
  entry.spec.clear_gpu_ids();  // A re-run's lease brings its own.
  entry.running = false;
  for (const ObjectId& arg : entry.pinned) released->push_back(arg);
  entry.pinned = std::move(pinned);
  // The spec as encoded, its holds, and the map slot and list node.
  entry.bytes = entry.spec.ByteSizeLong() + entry.pinned.size() * sizeof(ObjectId) + sizeof(Entry) +
                sizeof(ObjectId) * 2 + 2 * sizeof(void*);
  bytes_ += entry.bytes;
  Evict(released);
  UpdateSize();
  return entries_.contains(id);
}

void Lineage::Erase(Entries::iterator it, std::vector<ObjectId>* released) {
  bytes_ -= it->second.bytes;
  order_.erase(it->second.order);
  for (const ObjectId& arg : it->second.pinned) released->push_back(arg);
  entries_.erase(it);
}

void Lineage::Evict(std::vector<ObjectId>* released) {
  for (auto pos = order_.begin(); bytes_ > max_bytes_ && pos != order_.end();) {
    auto it = entries_.find(*pos++);  // Erase removes its node: step first.
    if (it->second.running) continue;  // Its re-run's reply records it again.
    evicted_.insert(it->first);
    evicted_total_.fetch_add(1, std::memory_order_relaxed);
    Erase(it, released);
  }
}

void Lineage::UpdateSize() { size_.store(entries_.size() + evicted_.size(), std::memory_order_relaxed); }

std::vector<ObjectId> Lineage::Drop(const ObjectId& id) {
  std::vector<ObjectId> released;
  absl::MutexLock lock(&mu_);
  if (auto it = entries_.find(id); it != entries_.end()) Erase(it, &released);
  evicted_.erase(id);
  UpdateSize();
  return released;
}

size_t Lineage::Bytes() const {
  absl::MutexLock lock(&mu_);
  return bytes_;
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
    if (evicted_.contains(id)) {
      out.why = "its lineage was evicted: the owner keeps at most " + std::to_string(max_bytes_) +
                " bytes of task specs to rebuild lost objects (LUMEN_MAX_LINEAGE_BYTES), oldest evicted first";
      return out;
    }
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
