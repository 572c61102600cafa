#include "deploy/dashboard/job_manager.h"

#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <thread>

#include "common/logging.h"
#include "common/process.h"
#include "common/status.h"

namespace lumen::dashboard {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The job's leader shell: `cd` into $0, run $1 (the entrypoint) as a
// shell command in the background and wait for it, passing its status on.
// SIGHUP (its parent-death signal: the dashboard died) kills the whole
// group; SIGTERM (Stop) reaches the group while the leader keeps waiting,
// so a driver that ignores it is still there for the SIGKILL. Under stdbuf
// (when there) so that C stdio of the driver writes its log line by line.
std::vector<std::string> EntrypointArgv(const std::string& working_dir,
                                        const std::string& entrypoint) {
  std::vector<std::string> argv;
  if (::access("/usr/bin/stdbuf", X_OK) == 0) argv = {"/usr/bin/stdbuf", "-oL", "-eL"};
  argv.insert(argv.end(),
              {"/bin/sh", "-c",
               "cd -- \"$0\" || { echo \"cannot enter working_dir $0\" >&2; exit 126; }\n"
               "trap 'kill -KILL 0' HUP\n"
               "trap ':' TERM\n"
               "/bin/sh -c \"$1\" &\n"
               "child=$!\n"
               "while :; do wait $child; status=$?; kill -0 $child 2>/dev/null || break; done\n"
               "exit $status",
               working_dir, entrypoint});
  return argv;
}

}  // namespace

JobManager::JobManager(JobStore& store, JobManagerOptions options)
    : store_(store), options_(std::move(options)) {}

std::string JobManager::LogPath(const std::string& submission_id) const {
  return options_.session_dir + "/logs/job-driver-" + submission_id + ".log";
}

void JobManager::FailOrphans() {
  auto jobs = store_.List();
  if (!jobs.ok()) {
    LOG(WARNING) << "cannot list jobs to find orphans: " << jobs.status();
    return;
  }
  for (JobInfo& job : *jobs) {
    if (IsTerminal(job.status) || jobs_.count(job.submission_id) > 0) continue;
    job.status = JobStatus::kFailed;
    job.message = "the dashboard that supervised this job stopped while it ran";
    job.end_time_ms = NowMs();
    if (absl::Status s = store_.Update(job); !s.ok()) LOG(WARNING) << s;
  }
}

absl::Status JobManager::StartEntrypoint(JobInfo& job) {
  const std::string working_dir = job.working_dir.empty() ? options_.session_dir : job.working_dir;
  struct stat st;
  if (::stat(working_dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError("working_dir " + working_dir +
                                      " is not a directory on the head node");
  }
  ProcessOptions process;
  process.argv = EntrypointArgv(working_dir, job.entrypoint);
  process.env = {{"RAY_ADDRESS", options_.gcs_address},
                 {"LUMEN_TOKEN", options_.token},
                 {"LUMEN_SESSION_DIR", options_.session_dir},
                 {"RAY_JOB_SUBMISSION_ID", job.submission_id}};
  for (const auto& [key, value] : job.env_vars) process.env[key] = value;
  process.log_file = job.log_path;
  process.new_process_group = true;
  process.die_with_parent = true;  // The loop thread lives as long as the dashboard.
  process.parent_death_signal = SIGHUP;  // The leader then kills the group.
  auto pid = StartProcess(process);
  if (!pid.ok()) return pid.status();
  job.supervisor_pid = *pid;
  return absl::OkStatus();
}

absl::StatusOr<JobInfo> JobManager::Submit(JobInfo request) {
  if (request.submission_id.empty()) request.submission_id = NewSubmissionId();
  RETURN_IF_ERROR(CheckSubmissionId(request.submission_id));
  request.status = JobStatus::kPending;
  request.message = "Job has not started yet.";
  request.driver_node_id = options_.node_id_hex;
  request.log_path = LogPath(request.submission_id);
  auto created = store_.Create(request);
  if (!created.ok()) {
    return absl::UnavailableError("cannot record the job in the GCS: " +
                                  std::string(created.status().message()));
  }
  if (!*created || jobs_.count(request.submission_id) > 0) {
    return absl::AlreadyExistsError("Job with submission_id " + request.submission_id +
                                    " already exists. Please use a different submission_id.");
  }
  Supervised& job = jobs_[request.submission_id];
  job.info = std::move(request);
  job.info.start_time_ms = NowMs();
  std::error_code ec;
  std::filesystem::remove(job.info.log_path, ec);  // A deleted job's old log.
  if (absl::Status s = StartEntrypoint(job.info); !s.ok()) {
    job.info.status = JobStatus::kFailed;
    job.info.message = "Job entrypoint could not start: " + std::string(s.message());
    job.info.end_time_ms = NowMs();
  } else {
    job.info.status = JobStatus::kRunning;
    job.info.message = "Job is currently running.";
  }
  Save(job);
  return job.info;
}

absl::StatusOr<JobInfo> JobManager::Get(const std::string& submission_id) {
  if (auto it = jobs_.find(submission_id); it != jobs_.end()) return it->second.info;
  auto job = store_.Get(submission_id);
  if (!job.ok()) return job.status();
  if (!job->has_value()) return absl::NotFoundError("no job with submission_id " + submission_id);
  return **job;
}

absl::StatusOr<std::vector<JobInfo>> JobManager::List() {
  auto stored = store_.List();
  if (!stored.ok()) return stored.status();
  std::map<std::string, JobInfo> all;
  for (JobInfo& job : *stored) all[job.submission_id] = std::move(job);
  for (const auto& [id, job] : jobs_) all[id] = job.info;  // Ours are fresher.
  std::vector<JobInfo> out;
  for (auto& [id, job] : all) out.push_back(std::move(job));
  return out;
}

absl::StatusOr<bool> JobManager::Stop(const std::string& submission_id) {
  auto it = jobs_.find(submission_id);
  if (it == jobs_.end()) {
    auto job = Get(submission_id);  // NotFound, or a job of nobody: nothing to stop.
    if (!job.ok()) return job.status();
    return false;
  }
  Supervised& job = it->second;
  if (IsTerminal(job.info.status) || job.stop_requested) return false;
  job.stop_requested = true;
  job.kill_at = std::chrono::steady_clock::now() + std::chrono::milliseconds(options_.stop_grace_ms);
  KillProcessGroup(job.info.supervisor_pid, SIGTERM);
  return true;
}

absl::Status JobManager::Delete(const std::string& submission_id) {
  ASSIGN_OR_RETURN(JobInfo job, Get(submission_id));
  if (!IsTerminal(job.status)) {
    return absl::FailedPreconditionError("job " + submission_id + " is " +
                                         JobStatusName(job.status) +
                                         "; only a finished job can be deleted (stop it first)");
  }
  RETURN_IF_ERROR(store_.Delete(submission_id));
  jobs_.erase(submission_id);
  std::error_code ec;
  std::filesystem::remove(LogPath(submission_id), ec);
  return absl::OkStatus();
}

void JobManager::Finish(Supervised& job, int wait_status) {
  int exit_code = 0;
  std::string message = DescribeExit(wait_status, &exit_code);
  job.info.driver_exit_code = exit_code;
  job.info.end_time_ms = NowMs();
  if (job.stop_requested) {
    job.info.status = JobStatus::kStopped;
    job.info.message = "Job was intentionally stopped.";
    KillProcessGroup(job.info.supervisor_pid, SIGKILL);  // Whatever ignored SIGTERM.
  } else if (exit_code == 0) {
    job.info.status = JobStatus::kSucceeded;
    job.info.message = message;
  } else {
    job.info.status = JobStatus::kFailed;
    job.info.message = message;
  }
  Save(job);
}

void JobManager::Save(Supervised& job) {
  absl::Status s = store_.Update(job.info);
  job.dirty = !s.ok();
  if (!s.ok()) LOG(WARNING) << "job " << job.info.submission_id << ": " << s << " (will retry)";
}

void JobManager::Poll() {
  const auto now = std::chrono::steady_clock::now();
  for (auto& [id, job] : jobs_) {
    if (job.info.status == JobStatus::kRunning && job.info.supervisor_pid > 0) {
      int wait_status = 0;
      if (::waitpid(job.info.supervisor_pid, &wait_status, WNOHANG) == job.info.supervisor_pid) {
        Finish(job, wait_status);
        continue;
      }
      if (job.stop_requested && now >= job.kill_at) {
        KillProcessGroup(job.info.supervisor_pid, SIGKILL);
      }
    }
    if (job.dirty) Save(job);
  }
}

void JobManager::StopAll(const std::string& reason) {
  std::vector<std::string> stopping;
  for (auto& [id, job] : jobs_) {
    if (job.info.status == JobStatus::kRunning && Stop(id).value_or(false)) stopping.push_back(id);
  }
  bool any = !stopping.empty();
  const auto give_up = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(options_.stop_grace_ms + 1000);
  while (any && std::chrono::steady_clock::now() < give_up) {
    Poll();
    any = false;
    for (const auto& [id, job] : jobs_) any |= job.info.status == JobStatus::kRunning;
    if (any) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  for (const std::string& id : stopping) {
    Supervised& job = jobs_[id];
    job.info.message = "Job was stopped: " + reason;
    Save(job);
  }
}

}  // namespace lumen::dashboard
