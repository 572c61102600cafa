// deploy/dashboard/job_manager.h
//
// JobManager is the job supervisor of the dashboard (docs/dashboard.md): it
// runs each submitted entrypoint on this node as `sh -c <entrypoint>` in a
// process group of its own (a child of the dashboard), in the job's
// working_dir, with its env_vars, RAY_ADDRESS (the GCS), LUMEN_TOKEN and
// LUMEN_SESSION_DIR set, stdout and stderr appended to
// <session>/logs/job-driver-<submission_id>.log. A job goes PENDING ->
// RUNNING -> SUCCEEDED (exit 0) / FAILED (exit code or signal in its
// message) / STOPPED (Stop: SIGTERM to the group, SIGKILL after
// `stop_grace_ms`). Every change is written to the JobStore; a write the
// GCS does not take (it is restarting) is retried on every Poll until it
// does, while this manager keeps answering from its own copy.
// Threading: one thread (the dashboard's loop); Poll() must be called
// periodically on it (it reaps the children and escalates stops). Store
// calls block that thread (GCS on loopback: milliseconds).
// Failure: user errors are InvalidArgument (bad request), AlreadyExists (a
// taken submission id), NotFound, FailedPrecondition (deleting a running
// job); a GCS that does not answer gives Unavailable.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deploy/dashboard/job_info.h"
#include "deploy/dashboard/job_store.h"

namespace lumen::dashboard {

struct JobManagerOptions {
  std::string gcs_address;  // RAY_ADDRESS of the entrypoints.
  std::string token;        // LUMEN_TOKEN of the entrypoints.
  std::string session_dir;  // Logs go to <session_dir>/logs/.
  std::string node_id_hex;  // Reported as driver_node_id; may be empty.
  int stop_grace_ms = 3000;
};

class JobManager {
 public:
  // `store` is not owned and must outlive the manager.
  JobManager(JobStore& store, JobManagerOptions options);

  // Marks jobs the store lists as PENDING or RUNNING but nobody supervises
  // (their dashboard stopped) FAILED. Called once at start.
  void FailOrphans();

  // Starts `request` (from ParseSubmitRequest); returns it as RUNNING, or
  // FAILED when its process could not start.
  absl::StatusOr<JobInfo> Submit(JobInfo request);
  absl::StatusOr<JobInfo> Get(const std::string& submission_id);
  absl::StatusOr<std::vector<JobInfo>> List();
  // True when the job was running and is being stopped.
  absl::StatusOr<bool> Stop(const std::string& submission_id);
  // Removes a terminal job and its log.
  absl::Status Delete(const std::string& submission_id);
  std::string LogPath(const std::string& submission_id) const;

  void Poll();
  // Stops every running job (SIGTERM, SIGKILL after the grace period) and
  // records them STOPPED; blocks up to the grace period. At shutdown.
  void StopAll(const std::string& reason);

 private:
  struct Supervised {
    JobInfo info;
    bool dirty = false;          // Not yet in the store.
    bool stop_requested = false;
    std::chrono::steady_clock::time_point kill_at;
  };

  absl::Status StartEntrypoint(JobInfo& job);
  void Finish(Supervised& job, int wait_status);
  void Save(Supervised& job);

  JobStore& store_;
  JobManagerOptions options_;
  std::map<std::string, Supervised> jobs_;  // This dashboard's jobs.
};

}  // namespace lumen::dashboard
