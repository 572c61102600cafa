#include "deploy/dashboard/job_store.h"

namespace lumen::dashboard {

GcsJobStore::GcsJobStore(const std::string& gcs_address, const std::string& token,
                         int timeout_ms)
    : client_(gcs_address, token), timeout_ms_(timeout_ms) {}

absl::StatusOr<bool> GcsJobStore::Put(const JobInfo& job, bool overwrite) {
  rpc::KvPutRequest request;
  request.set_ns(kJobKvNamespace);
  request.set_key(job.submission_id);
  request.set_value(JobToJson(job).dump());
  request.set_overwrite(overwrite);
  auto reply = client_.CallSync(&rpc::GcsService::Stub::KvPut, request, timeout_ms_);
  if (!reply.ok()) return reply.status();
  return reply->added();
}

absl::StatusOr<bool> GcsJobStore::Create(const JobInfo& job) { return Put(job, false); }

absl::Status GcsJobStore::Update(const JobInfo& job) { return Put(job, true).status(); }

absl::StatusOr<std::optional<JobInfo>> GcsJobStore::Get(const std::string& submission_id) {
  rpc::KvGetRequest request;
  request.set_ns(kJobKvNamespace);
  request.set_key(submission_id);
  auto reply = client_.CallSync(&rpc::GcsService::Stub::KvGet, request, timeout_ms_);
  if (!reply.ok()) return reply.status();
  if (!reply->found()) return std::optional<JobInfo>();
  auto job = JobFromJson(reply->value());
  if (!job.ok()) return job.status();
  return std::optional<JobInfo>(*std::move(job));
}

absl::StatusOr<std::vector<JobInfo>> GcsJobStore::List() {
  rpc::KvKeysRequest request;
  request.set_ns(kJobKvNamespace);
  auto keys = client_.CallSync(&rpc::GcsService::Stub::KvKeys, request, timeout_ms_);
  if (!keys.ok()) return keys.status();
  std::vector<JobInfo> jobs;
  for (const std::string& key : keys->keys()) {
    auto job = Get(key);
    if (!job.ok()) return job.status();
    if (job->has_value()) jobs.push_back(**job);  // Deleted in between: skipped.
  }
  return jobs;
}

absl::Status GcsJobStore::Delete(const std::string& submission_id) {
  rpc::KvDelRequest request;
  request.set_ns(kJobKvNamespace);
  request.set_key(submission_id);
  return client_.CallSync(&rpc::GcsService::Stub::KvDel, request, timeout_ms_).status();
}

}  // namespace lumen::dashboard
