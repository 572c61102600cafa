// deploy/dashboard/job_info.h
//
// A submitted job as the dashboard keeps it and as Ray's Jobs REST API shows
// it (Ray's JobDetails: submission_id, status, entrypoint, message,
// start_time, end_time, metadata, runtime_env, driver_exit_code,
// entrypoint_num_cpus ...), and the parsing of a submit request
// (POST /api/jobs/, Ray's JobSubmitRequest). The JSON of JobToJson is also
// what the GCS's internal KV stores (namespace kJobKvNamespace, key = the
// submission id), so a restarted GCS on Redis still lists every job.
// Pure functions, no I/O: unit tested in job_info_test.cc. Thread-safe.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include <nlohmann/json.hpp>

namespace lumen::dashboard {

inline constexpr char kJobKvNamespace[] = "job_submission";

enum class JobStatus { kPending, kRunning, kStopped, kSucceeded, kFailed };
std::string JobStatusName(JobStatus status);  // "PENDING", ...
absl::StatusOr<JobStatus> ParseJobStatus(const std::string& name);
bool IsTerminal(JobStatus status);

struct JobInfo {
  std::string submission_id;
  std::string entrypoint;
  JobStatus status = JobStatus::kPending;
  std::string message;
  int64_t start_time_ms = 0;  // 0: not started.
  int64_t end_time_ms = 0;    // 0: not ended.
  std::map<std::string, std::string> metadata;
  std::map<std::string, std::string> env_vars;  // runtime_env.env_vars
  std::string working_dir;                      // runtime_env.working_dir
  std::optional<double> entrypoint_num_cpus;
  std::optional<double> entrypoint_num_gpus;
  std::optional<double> entrypoint_memory;
  std::map<std::string, double> entrypoint_resources;
  std::optional<int> driver_exit_code;
  pid_t supervisor_pid = 0;  // The entrypoint's process group; 0: none.
  std::string driver_node_id;  // Hex; the head's node.
  std::string log_path;
};

nlohmann::json JobToJson(const JobInfo& job);
// The inverse of JobToJson (for what the KV holds).
absl::StatusOr<JobInfo> JobFromJson(const std::string& text);

// Parses and checks the body of POST /api/jobs/. Every error is an
// InvalidArgument whose message says what is wrong, the JSON parser's own
// words included for malformed JSON. Fields Lumen does not support
// (runtime_env other than env_vars and working_dir, unknown top-level
// fields) are refused, not ignored. submission_id may stay empty (the
// caller makes one).
absl::StatusOr<JobInfo> ParseSubmitRequest(const std::string& body);

// Ids are [A-Za-z0-9_.-]{1,128}: they name a log file and a KV key.
absl::Status CheckSubmissionId(const std::string& id);
// "raysubmit_" and 16 random letters and digits, as Ray makes them.
std::string NewSubmissionId();

// The message of a job whose entrypoint ended with wait status `status`:
// exit code or signal. Sets `exit_code` (128 + signal for a signal).
std::string DescribeExit(int wait_status, int* exit_code);

}  // namespace lumen::dashboard
