// deploy/dashboard/job_store.h
//
// Where submitted jobs are kept: a narrow interface, and GcsJobStore, which
// keeps each job as JSON (JobToJson) in the GCS's internal KV, namespace
// kJobKvNamespace, key = submission id. The GCS persists its KV in Redis
// when it has one, so a restarted GCS still lists the jobs; no job RPC of
// its own is needed. Threading: GcsJobStore blocks the calling thread for
// up to `timeout_ms` per GCS call; callable from any thread.
// Failure: Unavailable / DeadlineExceeded when the GCS does not answer.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/rpc/client.h"
#include "deploy/dashboard/job_info.h"
#include "proto/gcs.grpc.pb.h"

namespace lumen::dashboard {

class JobStore {
 public:
  virtual ~JobStore() = default;
  // Adds `job` unless its submission id is taken; false when taken.
  virtual absl::StatusOr<bool> Create(const JobInfo& job) = 0;
  virtual absl::Status Update(const JobInfo& job) = 0;
  virtual absl::StatusOr<std::optional<JobInfo>> Get(const std::string& submission_id) = 0;
  virtual absl::StatusOr<std::vector<JobInfo>> List() = 0;
  virtual absl::Status Delete(const std::string& submission_id) = 0;
};

class GcsJobStore : public JobStore {
 public:
  GcsJobStore(const std::string& gcs_address, const std::string& token, int timeout_ms);

  absl::StatusOr<bool> Create(const JobInfo& job) override;
  absl::Status Update(const JobInfo& job) override;
  absl::StatusOr<std::optional<JobInfo>> Get(const std::string& submission_id) override;
  absl::StatusOr<std::vector<JobInfo>> List() override;
  absl::Status Delete(const std::string& submission_id) override;

 private:
  absl::StatusOr<bool> Put(const JobInfo& job, bool overwrite);

  rpc::RpcClient<rpc::GcsService> client_;
  int timeout_ms_;
};

}  // namespace lumen::dashboard
