#include "gcs/task_event_store.h"

#include <algorithm>
#include <vector>

namespace lumen::gcs {

void TaskEventStore::Merge(rpc::TaskInfoEntry& entry, const rpc::TaskEvent& event) {
  if (!event.function_name().empty()) {
    entry.set_function_name(event.function_name());
    entry.set_type(event.type());
  }
  if (!event.name().empty()) entry.set_name(event.name());
  if (!event.actor_id().empty()) entry.set_actor_id(event.actor_id());
  if (!event.parent_task_id().empty()) entry.set_parent_task_id(event.parent_task_id());
  if (event.submitter_pid() != 0) entry.set_submitter_pid(event.submitter_pid());
  if (!event.node_id().empty()) entry.set_node_id(event.node_id());
  if (!event.worker_id().empty()) entry.set_worker_id(event.worker_id());
  if (event.worker_pid() != 0) entry.set_worker_pid(event.worker_pid());
  if (!event.error_type().empty()) {
    entry.set_error_type(event.error_type());
    entry.set_error_message(event.error_message());
  }
  auto* times = entry.mutable_state_time_ns();
  if (times->size() < rpc::TaskState_ARRAYSIZE) times->Resize(rpc::TaskState_ARRAYSIZE, 0);
  for (const rpc::TaskStateTime& change : event.states()) {
    const int state = change.state();
    if (state <= 0 || state >= rpc::TaskState_ARRAYSIZE) continue;
    if (state > entry.state()) entry.set_state(change.state());
    int64_t& seen = (*times)[state];
    if (seen == 0 || change.time_ns() < seen) seen = change.time_ns();
  }
}

void TaskEventStore::AddEvent(const rpc::TaskEvent& event) {
  JobTasks& job = Job(event.job_id());
  auto it = job.index.find(Key(event.task_id(), event.attempt()));
  if (it == job.index.end()) {
    rpc::TaskInfoEntry& entry = job.entries.emplace_back();
    entry.set_task_id(event.task_id());
    entry.set_attempt(event.attempt());
    entry.set_job_id(event.job_id());
    it = job.index.emplace(Key(entry.task_id(), entry.attempt()), std::prev(job.entries.end())).first;
    ++num_tasks_;
    // The entry just added is never the one evicted (at least 1 is kept).
    if (static_cast<int64_t>(job.entries.size()) > std::max<int64_t>(1, options_.max_tasks_per_job)) {
      const rpc::TaskInfoEntry& oldest = job.entries.front();
      job.index.erase(Key(oldest.task_id(), oldest.attempt()));
      job.entries.pop_front();
      ++job.evicted;
      --num_tasks_;
    }
  }
  Merge(*it->second, event);
}

void TaskEventStore::Add(const rpc::AddTaskEventDataRequest& request) {
  if (request.dropped() > 0) Job(request.job_id()).dropped_at_source += request.dropped();
  for (const auto& event : request.events()) AddEvent(event);
}

rpc::GetTaskEventsReply TaskEventStore::Get(const rpc::GetTaskEventsRequest& request) const {
  rpc::GetTaskEventsReply reply;
  std::vector<const rpc::TaskInfoEntry*> matches;
  int64_t total = 0;
  for (const auto& [job_id, job] : jobs_) {
    if (!request.job_id().empty() && job_id != request.job_id()) continue;
    rpc::JobTaskDrops* drops = reply.add_drops();
    drops->set_job_id(job_id);
    drops->set_dropped_at_source(job.dropped_at_source);
    drops->set_evicted(job.evicted);
    // Entries are in creation order: with a limit only each job's last
    // `limit` matches can be among the most recent overall.
    size_t kept = 0;
    const size_t first_of_job = matches.size();
    for (auto it = job.entries.rbegin(); it != job.entries.rend(); ++it) {
      if (!request.task_id().empty() && it->task_id() != request.task_id()) continue;
      ++total;
      if (request.limit() <= 0 || kept < static_cast<size_t>(request.limit())) {
        matches.push_back(&*it);
        ++kept;
      }
    }
    std::reverse(matches.begin() + static_cast<ptrdiff_t>(first_of_job), matches.end());  // Oldest first.
  }
  reply.set_total(total);
  // Across jobs "most recent" is by the first state time seen.
  auto first_time = [](const rpc::TaskInfoEntry* e) {
    int64_t t = INT64_MAX;
    for (int64_t s : e->state_time_ns()) {
      if (s != 0) t = std::min(t, s);
    }
    return t;
  };
  std::vector<std::pair<int64_t, const rpc::TaskInfoEntry*>> by_time;
  by_time.reserve(matches.size());
  for (const auto* entry : matches) by_time.emplace_back(first_time(entry), entry);
  std::stable_sort(by_time.begin(), by_time.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  for (size_t i = 0; i < by_time.size(); ++i) matches[i] = by_time[i].second;
  size_t begin = 0;
  if (request.limit() > 0 && matches.size() > static_cast<size_t>(request.limit())) {
    begin = matches.size() - static_cast<size_t>(request.limit());
  }
  for (size_t i = begin; i < matches.size(); ++i) *reply.add_tasks() = *matches[i];
  return reply;
}

}  // namespace lumen::gcs
