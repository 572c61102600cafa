// gcs/job_manager.h
//
// JobManager is the job table. AddJob hands out job ids 1, 2, 3, ... (as
// 4-byte little-endian JobIds); the last id handed out is persisted before
// the job itself, so a GCS restarted on the same store continues the
// sequence and never reuses an id.
// Threading: the GCS loop only. Failure: store errors are returned and leave
// the table unchanged.
#pragma once

#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "common/id.h"
#include "common/clock.h"
#include "gcs/store/store_client.h"
#include "proto/common.pb.h"

namespace lumen::gcs {

class JobManager {
 public:
  // `store` and `clock` are not owned and must outlive the manager.
  JobManager(StoreClient& store, const Clock& clock) : store_(store), clock_(clock) {}

  // Reads the job table and the id counter (GCS start).
  absl::Status Load();
  // Records `job` under a new id (which overrides job.job_id) and returns it.
  // A repeat of a `request_id` already seen (a driver whose reply was lost)
  // returns the job that request created. Not persisted: a restarted GCS
  // forgets request ids (a repeat then makes a new job).
  absl::StatusOr<JobId> AddJob(rpc::JobInfo job, const std::string& request_id = "");
  // A job a raylet reports as running (RegisterNode's live_jobs): recorded
  // as alive when unknown, and ids are handed out after it from then on, so
  // a GCS that lost its tables never gives a running job's id to a new
  // driver. A known job is left as it is, unless the GCS's record names
  // another driver (one the raylet refused for holding the id already).
  absl::Status Restore(const rpc::JobInfo& job);
  // Marks the job finished now; finishing twice is fine. NotFound if unknown.
  absl::Status MarkFinished(const std::string& job_id);

  // Null when unknown. The pointer is valid until the next change.
  const rpc::JobInfo* Find(const std::string& job_id) const;
  // Every job, by increasing id.
  std::vector<rpc::JobInfo> GetAll() const;
  uint32_t last_job_id() const { return last_job_id_; }

 private:
  absl::Status Persist(const rpc::JobInfo& job);

  StoreClient& store_;
  const Clock& clock_;
  uint32_t last_job_id_ = 0;
  absl::flat_hash_map<std::string, rpc::JobInfo> jobs_;  // By binary job id.
  absl::flat_hash_map<std::string, JobId> by_request_;   // AddJob request id -> job.
};

}  // namespace lumen::gcs
