#include "gcs/task_event_store.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <utility>

#include "common/task_event_record.h"

namespace lumen::gcs {
namespace {

// The string at `index` of a batch's table; out of range reads as empty.
const std::string& StringAt(const std::vector<std::string>& strings, uint32_t index) {
  static const std::string kEmpty;
  return index < strings.size() ? strings[index] : kEmpty;
}

// A side table built while converting folded events.
struct Interner {
  std::vector<std::string> strings{std::string()};
  absl::flat_hash_map<std::string, uint32_t> index;
  uint32_t operator()(const std::string& s) {
    if (s.empty()) return 0;
    auto [it, added] = index.try_emplace(s, static_cast<uint32_t>(strings.size()));
    if (added) strings.push_back(s);
    return it->second;
  }
};

void AppendRecord(std::string& out, const TaskEventRecord& r) {
  out.append(reinterpret_cast<const char*>(&r), sizeof(r));
}

void MergeRecord(rpc::TaskInfoEntry& entry, const TaskEventRecord& r,
                 const std::vector<std::string>& strings) {
  if (r.flags & TaskEventRecord::kDescribed) {
    if (r.function_name != 0) {
      entry.set_function_name(StringAt(strings, r.function_name));
      entry.set_type(static_cast<rpc::TaskType>(r.type));
    }
    if (r.name != 0) entry.set_name(StringAt(strings, r.name));
    if (r.actor_id != 0) entry.set_actor_id(StringAt(strings, r.actor_id));
    if (r.parent_task_id != 0) entry.set_parent_task_id(StringAt(strings, r.parent_task_id));
  }
  if (r.pid != 0) {
    if (r.state == rpc::PENDING_ARGS_AVAIL && !(r.flags & TaskEventRecord::kExecutor)) {
      entry.set_submitter_pid(r.pid);
    } else {
      entry.set_worker_pid(r.pid);
    }
  }
  if (r.node_id != 0) entry.set_node_id(StringAt(strings, r.node_id));
  if (r.worker_id != 0) entry.set_worker_id(StringAt(strings, r.worker_id));
  if (r.error_type != 0) {
    entry.set_error_type(StringAt(strings, r.error_type));
    entry.set_error_message(StringAt(strings, r.error_message));
  }
  auto* times = entry.mutable_state_time_ns();
  if (times->size() < rpc::TaskState_ARRAYSIZE) times->Resize(rpc::TaskState_ARRAYSIZE, 0);
  auto earliest = [times](int state, int64_t time_ns) {
    int64_t& seen = (*times)[state];
    if (seen == 0 || time_ns < seen) seen = time_ns;
  };
  // The executor's record carries the times of the states it went through.
  if (r.received_ns != 0) earliest(rpc::SUBMITTED_TO_WORKER, r.received_ns);
  if (r.running_ns != 0) earliest(rpc::RUNNING, r.running_ns);
  const int state = r.state;
  if (state <= 0 || state >= rpc::TaskState_ARRAYSIZE) return;
  if (state > entry.state()) entry.set_state(static_cast<rpc::TaskState>(state));
  earliest(state, r.time_ns);
}

}  // namespace

TaskEventRecord TaskEventStore::Batch::At(size_t i) const {
  const char* at = records.data() + i * static_cast<size_t>(record_size);
  if (record_size == static_cast<int32_t>(sizeof(CompactTaskEventRecord))) {
    CompactTaskEventRecord c;
    std::memcpy(&c, at, sizeof(c));
    return ExpandTaskEventRecord(c, strings, self_node, self_worker);
  }
  TaskEventRecord r;
  std::memcpy(&r, at, sizeof(r));
  return r;
}

void TaskEventStore::Batch::Head(size_t i, uint32_t& job, uint8_t& state, uint8_t& flags) const {
  const char* at = records.data() + i * static_cast<size_t>(record_size);
  if (record_size == static_cast<int32_t>(sizeof(CompactTaskEventRecord))) {
    uint16_t job16;
    std::memcpy(&job16, at + offsetof(CompactTaskEventRecord, job), sizeof(job16));
    job = job16;
    std::memcpy(&state, at + offsetof(CompactTaskEventRecord, state), 1);
    std::memcpy(&flags, at + offsetof(CompactTaskEventRecord, flags), 1);
    return;
  }
  std::memcpy(&job, at + offsetof(TaskEventRecord, job), sizeof(job));
  std::memcpy(&state, at + offsetof(TaskEventRecord, state), 1);
  std::memcpy(&flags, at + offsetof(TaskEventRecord, flags), 1);
}

absl::Status TaskEventStore::Add(rpc::AddTaskEventDataRequest& request) {
  if (request.dropped() > 0) jobs_[request.job_id()].dropped_at_source += request.dropped();
  if (!request.records().empty()) {
    const int32_t size = request.record_size();
    if (size != static_cast<int32_t>(sizeof(TaskEventRecord)) &&
        size != static_cast<int32_t>(sizeof(CompactTaskEventRecord))) {
      return absl::InvalidArgumentError("task event records of " + std::to_string(size) +
                                        " bytes, this GCS reads records of " +
                                        std::to_string(sizeof(CompactTaskEventRecord)) + " or " +
                                        std::to_string(sizeof(TaskEventRecord)));
    }
    if (request.records().size() % static_cast<size_t>(size) != 0) {
      return absl::InvalidArgumentError("task event records: " + std::to_string(request.records().size()) +
                                        " bytes is not a whole number of records");
    }
    auto batch = std::make_shared<Batch>();
    batch->records.swap(*request.mutable_records());
    batch->record_size = size;
    batch->self_node = request.self_node();
    batch->self_worker = request.self_worker();
    batch->strings.assign(request.strings().begin(), request.strings().end());
    if (batch->strings.empty()) batch->strings.emplace_back();
    AddBatch(std::move(batch));
  }
  if (request.events_size() > 0) {
    Interner intern;
    auto batch = std::make_shared<Batch>();
    for (const rpc::TaskEvent& event : request.events()) {
      TaskEventRecord r;
      r.attempt = event.attempt();
      r.job = intern(event.job_id());
      if (event.task_id().size() <= TaskEventRecord::kInlineTaskId) {
        std::memcpy(r.task_id, event.task_id().data(), event.task_id().size());
        r.task_id_len = static_cast<uint8_t>(event.task_id().size());
      } else {
        r.task_id_str = intern(event.task_id());
      }
      r.flags = TaskEventRecord::kDescribed;
      r.function_name = intern(event.function_name());
      r.type = static_cast<uint8_t>(event.type());
      r.name = intern(event.name());
      r.actor_id = intern(event.actor_id());
      r.parent_task_id = intern(event.parent_task_id());
      r.node_id = intern(event.node_id());
      r.worker_id = intern(event.worker_id());
      r.error_type = intern(event.error_type());
      r.error_message = intern(event.error_message());
      if (event.states_size() == 0) {
        r.pid = event.worker_pid() != 0 ? event.worker_pid() : event.submitter_pid();
        AppendRecord(batch->records, r);
      }
      for (const rpc::TaskStateTime& change : event.states()) {
        r.state = static_cast<uint8_t>(change.state());
        r.time_ns = change.time_ns();
        r.pid = change.state() == rpc::PENDING_ARGS_AVAIL ? event.submitter_pid() : event.worker_pid();
        AppendRecord(batch->records, r);
        if (change.state() == rpc::PENDING_ARGS_AVAIL && event.worker_pid() != 0) {
          // The worker's pid as well (kept by a record without a state).
          TaskEventRecord pid_only = r;
          pid_only.state = 0;
          pid_only.pid = event.worker_pid();
          AppendRecord(batch->records, pid_only);
        }
      }
    }
    batch->strings = std::move(intern.strings);
    batch->record_size = static_cast<int32_t>(sizeof(TaskEventRecord));
    AddBatch(std::move(batch));
  }
  return absl::OkStatus();
}

void TaskEventStore::AddBatch(std::shared_ptr<const Batch> batch) {
  // The only pass over the records at ingest: which jobs they belong to
  // (almost always one) and how many submissions each share holds.
  std::vector<Part> parts;
  const size_t n = batch->size();
  for (size_t i = 0; i < n; ++i) {
    uint32_t job;
    uint8_t state, flags;
    batch->Head(i, job, state, flags);
    Part* part = parts.empty() || parts.back().job != job ? nullptr : &parts.back();
    if (part == nullptr) {
      for (Part& p : parts) {
        if (p.job == job) part = &p;
      }
    }
    if (part == nullptr) {
      part = &parts.emplace_back();
      part->job = job;
    }
    ++part->records;
    if (state == rpc::PENDING_ARGS_AVAIL && !(flags & TaskEventRecord::kExecutor)) ++part->submissions;
  }
  const int64_t max_records = std::max<int64_t>(1, options_.max_tasks_per_job) * kRecordsPerTask;
  for (Part& part : parts) {
    part.batch = batch;
    JobTasks& job = jobs_[StringAt(batch->strings, part.job)];
    job.records += part.records;
    num_records_ += part.records;
    job.parts.push_back(std::move(part));
    ++job.next_seq;
    // The newest batch is never evicted.
    while (job.records > max_records && job.parts.size() > 1) {
      const Part& oldest = job.parts.front();
      job.records -= oldest.records;
      num_records_ -= oldest.records;
      // Its tasks count as evicted unless a query merged them already (the
      // merged entries are trimmed, and counted, on their own).
      const uint64_t oldest_seq = job.next_seq - job.parts.size();
      if (oldest_seq >= job.merged_seq) job.evicted += oldest.submissions;
      job.parts.pop_front();
    }
  }
}

void TaskEventStore::Merge(JobTasks& job) const {
  const uint64_t first_seq = job.next_seq - job.parts.size();
  for (uint64_t seq = std::max(job.merged_seq, first_seq); seq < job.next_seq; ++seq) {
    const Part& part = job.parts[seq - first_seq];
    const Batch& batch = *part.batch;
    const size_t n = batch.size();
    for (size_t i = 0; i < n; ++i) {
      const TaskEventRecord r = batch.At(i);
      if (r.job != part.job) continue;
      const std::string_view task_id =
          r.task_id_str != 0 ? std::string_view(StringAt(batch.strings, r.task_id_str))
                             : std::string_view(r.task_id, std::min<size_t>(r.task_id_len, TaskEventRecord::kInlineTaskId));
      const uint64_t position = job.merged_base + job.merged.size();
      auto [it, added] = job.index.try_emplace(std::make_pair(std::string(task_id), r.attempt), position);
      if (added) {
        rpc::TaskInfoEntry& entry = job.merged.emplace_back();
        entry.set_task_id(task_id.data(), task_id.size());
        entry.set_attempt(r.attempt);
        entry.set_job_id(StringAt(batch.strings, part.job));
      }
      MergeRecord(job.merged[it->second - job.merged_base], r, batch.strings);
    }
  }
  job.merged_seq = job.next_seq;
  const size_t max_entries = static_cast<size_t>(std::max<int64_t>(1, options_.max_tasks_per_job));
  while (job.merged.size() > max_entries) {
    const rpc::TaskInfoEntry& oldest = job.merged.front();
    job.index.erase(std::make_pair(oldest.task_id(), oldest.attempt()));
    job.merged.pop_front();
    ++job.merged_base;
    ++job.trimmed;
  }
}

rpc::GetTaskEventsReply TaskEventStore::Get(const rpc::GetTaskEventsRequest& request) const {
  rpc::GetTaskEventsReply reply;
  std::vector<rpc::TaskInfoEntry> matches;
  int64_t total = 0;
  for (auto& [job_id, job] : jobs_) {
    if (!request.job_id().empty() && job_id != request.job_id()) continue;
    Merge(job);
    rpc::JobTaskDrops* drops = reply.add_drops();
    drops->set_job_id(job_id);
    drops->set_dropped_at_source(job.dropped_at_source);
    drops->set_evicted(job.evicted + job.trimmed);
    // Entries are in creation order: with a limit only each job's last
    // `limit` matches can be among the most recent overall.
    std::vector<const rpc::TaskInfoEntry*> kept;
    for (auto it = job.merged.rbegin(); it != job.merged.rend(); ++it) {
      if (!request.task_id().empty() && it->task_id() != request.task_id()) continue;
      ++total;
      if (request.limit() <= 0 || kept.size() < static_cast<size_t>(request.limit())) kept.push_back(&*it);
    }
    for (auto it = kept.rbegin(); it != kept.rend(); ++it) matches.push_back(**it);  // Oldest first.
  }
  reply.set_total(total);
  // Across jobs "most recent" is by the first state time seen.
  auto first_time = [](const rpc::TaskInfoEntry& e) {
    int64_t t = INT64_MAX;
    for (int64_t s : e.state_time_ns()) {
      if (s != 0) t = std::min(t, s);
    }
    return t;
  };
  std::vector<std::pair<int64_t, size_t>> by_time;
  by_time.reserve(matches.size());
  for (size_t i = 0; i < matches.size(); ++i) by_time.emplace_back(first_time(matches[i]), i);
  std::stable_sort(by_time.begin(), by_time.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  size_t begin = 0;
  if (request.limit() > 0 && by_time.size() > static_cast<size_t>(request.limit())) {
    begin = by_time.size() - static_cast<size_t>(request.limit());
  }
  for (size_t i = begin; i < by_time.size(); ++i) *reply.add_tasks() = std::move(matches[by_time[i].second]);
  return reply;
}

}  // namespace lumen::gcs
