#include "gcs/job_manager.h"

#include <algorithm>

#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "gcs/node_manager.h"
#include "gcs/tables.h"

namespace lumen::gcs {

absl::Status JobManager::Load() {
  auto rows = store_.GetAll(kJobTable);
  if (!rows.ok()) return rows.status();
  for (const auto& [key, value] : *rows) {
    rpc::JobInfo job;
    if (!job.ParseFromString(value) || job.job_id().size() != JobId::kSize) {
      LOG(ERROR) << "skipping unreadable job record " << key;
      continue;
    }
    last_job_id_ = std::max(last_job_id_, JobId::FromBinaryOrNil(job.job_id()).ToInt());
    jobs_[job.job_id()] = std::move(job);
  }
  auto counter = store_.Get(kCounterTable, kJobIdCounter);
  if (!counter.ok()) return counter.status();
  uint32_t saved = 0;
  if (counter->has_value() && absl::SimpleAtoi(**counter, &saved)) {
    last_job_id_ = std::max(last_job_id_, saved);
  }
  LOG(INFO) << "loaded " << jobs_.size() << " jobs; last job id " << last_job_id_;
  return absl::OkStatus();
}

absl::StatusOr<JobId> JobManager::AddJob(rpc::JobInfo job, const std::string& request_id) {
  if (!request_id.empty()) {
    if (auto it = by_request_.find(request_id); it != by_request_.end()) return it->second;
  }
  uint32_t next = last_job_id_ + 1;
  // The counter first: a crash between the two writes skips an id, never reuses one.
  if (auto st = store_.Put(kCounterTable, kJobIdCounter, std::to_string(next)); !st.ok()) {
    return st;
  }
  last_job_id_ = next;
  JobId id = JobId::FromInt(next);
  job.set_job_id(id.Binary());
  job.set_is_dead(false);
  if (job.start_time_ms() == 0) job.set_start_time_ms(clock_.WallMs());
  if (auto st = Persist(job); !st.ok()) return st;
  LOG(INFO) << "job " << next << " added (driver pid " << job.driver_pid() << ")";
  jobs_[job.job_id()] = std::move(job);
  if (!request_id.empty()) by_request_.emplace(request_id, id);
  return id;
}

absl::Status JobManager::Restore(const rpc::JobInfo& job) {
  if (job.job_id().size() != JobId::kSize) {
    return absl::InvalidArgumentError("live job with a malformed id " + IdHex(job.job_id()));
  }
  const uint32_t id = JobId::FromBinaryOrNil(job.job_id()).ToInt();
  if (id > last_job_id_) {
    if (auto st = store_.Put(kCounterTable, kJobIdCounter, std::to_string(id)); !st.ok()) {
      return st;
    }
    last_job_id_ = id;
  }
  if (auto it = jobs_.find(job.job_id());
      it != jobs_.end() && it->second.driver_pid() == job.driver_pid() &&
      it->second.driver_address().worker_id() == job.driver_address().worker_id()) {
    return absl::OkStatus();
  }
  rpc::JobInfo restored = job;
  restored.set_is_dead(false);
  if (auto st = Persist(restored); !st.ok()) return st;
  LOG(INFO) << "job " << id << " restored from a raylet (driver pid " << job.driver_pid() << ")";
  jobs_[job.job_id()] = std::move(restored);
  return absl::OkStatus();
}

absl::Status JobManager::MarkFinished(const std::string& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError("unknown job " + IdHex(job_id));
  if (it->second.is_dead()) return absl::OkStatus();
  rpc::JobInfo job = it->second;
  job.set_is_dead(true);
  job.set_end_time_ms(clock_.WallMs());
  if (auto st = Persist(job); !st.ok()) return st;
  LOG(INFO) << "job " << IdHex(job_id) << " finished";
  it->second = std::move(job);
  return absl::OkStatus();
}

absl::Status JobManager::Persist(const rpc::JobInfo& job) {
  return store_.Put(kJobTable, IdHex(job.job_id()), job.SerializeAsString());
}

const rpc::JobInfo* JobManager::Find(const std::string& job_id) const {
  auto it = jobs_.find(job_id);
  return it == jobs_.end() ? nullptr : &it->second;
}

std::vector<rpc::JobInfo> JobManager::GetAll() const {
  std::vector<rpc::JobInfo> out;
  for (const auto& [id, job] : jobs_) out.push_back(job);
  std::sort(out.begin(), out.end(), [](const rpc::JobInfo& a, const rpc::JobInfo& b) {
    return JobId::FromBinaryOrNil(a.job_id()).ToInt() < JobId::FromBinaryOrNil(b.job_id()).ToInt();
  });
  return out;
}

}  // namespace lumen::gcs
