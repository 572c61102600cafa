#include "worker/reference_table.h"

#include <algorithm>

namespace lumen::worker {
namespace {

thread_local TaskRefScope* t_scope = nullptr;

}  // namespace

void ReferenceTable::AddOwned(const ObjectId& id) {
  absl::MutexLock lock(&mu_);
  entries_[id].owned = true;
}

void ReferenceTable::MarkInPlasma(const ObjectId& id) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  if (it != entries_.end()) it->second.in_plasma = true;
}

void ReferenceTable::Add(const ObjectId& id) { Hold(id, /*task_arg=*/false); }
void ReferenceTable::AddTaskArg(const ObjectId& id) { Hold(id, /*task_arg=*/true); }

void ReferenceTable::Hold(const ObjectId& id, bool task_arg) {
  bool borrowed;
  {
    absl::MutexLock lock(&mu_);
    Entry& entry = entries_[id];
    ++entry.count;
    entry.task_args += task_arg ? 1 : 0;
    borrowed = !entry.owned;
  }
  if (borrowed && t_scope != nullptr) t_scope->seen.push_back(id);
}

void ReferenceTable::AddRemote(const ObjectId& id, const std::string& holder) {
  absl::MutexLock lock(&mu_);
  Entry& entry = entries_[id];
  ++entry.count;
  entry.MutableRemote().holders.push_back(WorkerId::FromBinaryOrNil(holder));
}

bool ReferenceTable::AddContained(const ObjectId& outer, const std::vector<ObjectId>& inner) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(outer);
  if (it == entries_.end()) return false;
  auto& contained = it->second.MutableRemote().contained;
  contained.insert(contained.end(), inner.begin(), inner.end());
  // (The reference to `it` ends here: inserting below may rehash.)
  for (const ObjectId& id : inner) ++entries_[id].count;
  return true;
}

void ReferenceTable::Remove(const ObjectId& id) { Release(id, nullptr); }
void ReferenceTable::RemoveTaskArg(const ObjectId& id) { Release(id, nullptr, /*task_arg=*/true); }
void ReferenceTable::RemoveRemote(const ObjectId& id, const std::string& holder) {
  Release(id, &holder);
}

int ReferenceTable::CountExcept(const Entry& e, const WorkerId& holder) {
  if (!e.remote) return e.count;
  const auto& holders = e.remote->holders;
  return e.count - static_cast<int>(std::count(holders.begin(), holders.end(), holder));
}

void ReferenceTable::Release(const ObjectId& id, const std::string* holder, bool task_arg) {
  Entry freed;
  bool erased = false;
  std::vector<std::function<void()>> answered;
  {
    absl::MutexLock lock(&mu_);
    auto it = entries_.find(id);
    if (it == entries_.end()) return;
    Entry& entry = it->second;
    if (holder != nullptr && entry.remote) {
      auto& holders = entry.remote->holders;
      auto r = std::find(holders.begin(), holders.end(), WorkerId::FromBinaryOrNil(*holder));
      if (r != holders.end()) holders.erase(r);
    }
    if (task_arg && entry.task_args > 0) --entry.task_args;
    if (--entry.count > 0) {
      if (!entry.remote) return;
      // Waiters whose requester now holds everything that is left.
      auto& waiters = entry.remote->waiters;
      for (size_t i = 0; i < waiters.size();) {
        if (CountExcept(entry, waiters[i].requester) > 0) {
          ++i;
          continue;
        }
        answered.push_back(std::move(waiters[i].released));
        waiters[i] = std::move(waiters.back());
        waiters.pop_back();
      }
    } else {
      freed = std::move(entry);
      entries_.erase(it);
      erased = true;
    }
  }
  for (auto& done : answered) done();
  if (!erased) return;
  on_free_(id, freed.owned != 0, freed.in_plasma != 0);
  if (!freed.remote) return;
  for (auto& waiter : freed.remote->waiters) waiter.released();
  for (const ObjectId& inner : freed.remote->contained) Release(inner, nullptr);
}

bool ReferenceTable::WhenReleased(const ObjectId& id, const std::string& requester,
                                  std::function<void()> released) {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  const WorkerId asker = WorkerId::FromBinaryOrNil(requester);
  if (it == entries_.end() || CountExcept(it->second, asker) <= 0) return false;
  it->second.MutableRemote().waiters.push_back({asker, std::move(released)});
  return true;
}

int ReferenceTable::CountExcept(const ObjectId& id, const std::string& holder) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  return it == entries_.end() ? 0 : CountExcept(it->second, WorkerId::FromBinaryOrNil(holder));
}

bool ReferenceTable::IsOwnedAndAlive(const ObjectId& id) const {
  absl::MutexLock lock(&mu_);
  auto it = entries_.find(id);
  return it != entries_.end() && it->second.owned != 0;
}

bool ReferenceTable::IsReferenced(const ObjectId& id) const {
  absl::MutexLock lock(&mu_);
  return entries_.count(id) > 0;
}

size_t ReferenceTable::Size() const {
  absl::MutexLock lock(&mu_);
  return entries_.size();
}

std::vector<ReferenceTable::Info> ReferenceTable::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<Info> out;
  out.reserve(entries_.size());
  for (const auto& [id, e] : entries_) {
    Info info{id, e.owned != 0, e.in_plasma != 0, e.count, static_cast<int>(e.task_args), {}, {}};
    if (e.remote) {
      info.contains = e.remote->contained;
      for (const WorkerId& holder : e.remote->holders) info.remote_holders.push_back(holder.Binary());
    }
    out.push_back(std::move(info));
  }
  return out;
}

TaskRefScope::TaskRefScope(const rpc::Address* caller) : caller(caller), saved_(t_scope) {
  t_scope = this;
}
TaskRefScope::~TaskRefScope() { t_scope = saved_; }
TaskRefScope* TaskRefScope::Current() { return t_scope; }

}  // namespace lumen::worker
