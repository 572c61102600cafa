#include "raylet/worker_pool.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>

#include "absl/strings/str_join.h"
#include "common/logging.h"

namespace lumen::raylet {

WorkerPool::WorkerPool(ProcessLauncher& launcher, const Clock& clock, WorkerPoolOptions options)
    : launcher_(launcher),
      clock_(clock),
      options_(std::move(options)),
      ports_(options_.min_worker_port, options_.max_worker_port, options_.worker_port_is_free) {}

WorkerPool::~WorkerPool() { KillAll(); }

absl::Status WorkerPool::RegisterDriver(const WorkerId& driver, pid_t driver_pid,
                                        const rpc::JobInfo& info, int driver_port) {
  JobId job_id = JobId::FromBinaryOrNil(info.job_id());
  Job& job = jobs_[job_id];  // A driverless job (actor leases only) is adopted.
  if (job.driver == driver) return absl::OkStatus();  // A retried registration.
  if (!job.driver.IsNil()) {
    LOG(WARNING) << "job " << job_id.Hex() << ": refused driver pid " << driver_pid
                 << ": the job is held by driver pid " << job.driver_pid;
    return absl::AlreadyExistsError(
        "job " + job_id.Hex() + " is already held by another driver (pid " +
        std::to_string(job.driver_pid) +
        ") on this node: the GCS handed out a job id twice (restarted without Redis?)");
  }
  job.info = info;
  job.driver = driver;
  job.driver_pid = driver_pid;
  job.driver_port = driver_port;
  LOG(INFO) << "job " << job_id.Hex() << ": driver pid " << driver_pid << " registered; starting "
            << options_.num_prestart_workers << " workers";
  Maintain();
  return absl::OkStatus();
}

void WorkerPool::AddJob(const JobId& job_id, const rpc::JobInfo& info) {
  auto [it, added] = jobs_.try_emplace(job_id);
  if (!added) return;
  it->second.info = info;
  it->second.info.set_job_id(job_id.Binary());
  LOG(INFO) << "job " << job_id.Hex() << ": known here without its driver (actor lease)";
}

std::vector<rpc::JobInfo> WorkerPool::LiveJobs() const {
  std::vector<rpc::JobInfo> jobs;
  jobs.reserve(jobs_.size());
  for (const auto& [id, job] : jobs_) {
    if (!job.driver.IsNil()) jobs.push_back(job.info);
  }
  return jobs;
}

std::optional<JobId> WorkerPool::JobOfDriver(const WorkerId& driver) const {
  if (driver.IsNil()) return std::nullopt;  // Driverless jobs have a nil driver.
  for (const auto& [job_id, job] : jobs_) {
    if (job.driver == driver) return job_id;
  }
  return std::nullopt;
}

std::vector<WorkerId> WorkerPool::FinishJob(const JobId& job_id,
                                            const absl::flat_hash_set<WorkerId>& keep,
                                            const std::string& reason) {
  std::vector<WorkerId> killed;
  for (const auto& [id, worker] : workers_) {
    if (worker.job == job_id && !keep.contains(id)) killed.push_back(id);
  }
  for (const auto& id : killed) KillWorker(id, reason);
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return killed;
  if (it->second.num_workers == 0) {
    jobs_.erase(it);
  } else {
    it->second.driver = WorkerId::Nil();  // Stays for the kept workers.
    it->second.driver_pid = 0;
    it->second.driver_port = 0;
  }
  return killed;
}

std::vector<WorkerId> WorkerPool::DetachedWorkers(const JobId& job) const {
  std::vector<WorkerId> detached;
  for (const auto& [id, worker] : workers_) {
    if (worker.job == job && worker.detached) detached.push_back(id);
  }
  return detached;
}

std::vector<JobId> WorkerPool::EmptyDriverlessJobs() const {
  std::vector<JobId> empty;
  for (const auto& [job_id, job] : jobs_) {
    if (job.driver.IsNil() && job.num_workers == 0) empty.push_back(job_id);
  }
  return empty;
}

std::vector<JobId> WorkerPool::FindJobsWithDeadDrivers() {
  std::vector<JobId> dead;
  for (const auto& [job_id, job] : jobs_) {
    if (job.driver_pid > 0 && !launcher_.IsAlive(job.driver_pid)) dead.push_back(job_id);
  }
  return dead;
}

absl::Status WorkerPool::EnsureStarting(const JobId& job_id, int wanted) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end()) return absl::NotFoundError("unknown job " + job_id.Hex());
  Job& job = it->second;
  if (job.num_starting < wanted && StartsSuspended(job)) {
    return absl::FailedPreconditionError(job.last_failure);
  }
  while (job.num_starting < wanted && total_starting_ < options_.max_starting_workers) {
    absl::Status st = StartWorker(job_id, job);
    if (absl::IsResourceExhausted(st)) return OnPortsExhausted(job_id, job, std::move(st));
    if (!st.ok()) return st;
  }
  return absl::OkStatus();
}

absl::Status WorkerPool::OnPortsExhausted(const JobId& job_id, const Job& job, absl::Status full) {
  // Killed workers not reaped yet hold ports that come back soon.
  if (ports_.num_held() > kPortsPerWorker * NumWorkers()) return absl::OkStatus();
  const WorkerInfo* oldest_idle = nullptr;
  for (const auto& [other_id, other] : jobs_) {
    if (other_id == job_id || other.idle.empty()) continue;
    const WorkerInfo& candidate = workers_.at(other.idle.front());
    if (!oldest_idle || candidate.idle_since_ms < oldest_idle->idle_since_ms) oldest_idle = &candidate;
  }
  if (oldest_idle) {
    KillWorker(oldest_idle->id, "its ports are needed by a worker of job " + job_id.Hex() +
                                    " (the worker port range " + ports_.RangeText() + " is full)");
    return absl::OkStatus();
  }
  if (job.num_workers - job.num_dedicated > 0) return absl::OkStatus();  // Its own come back.
  LOG(WARNING) << full.message();
  return full;
}

namespace {

// One log file per worker, worker-<id>-<pid>.out: the file opened for the
// process's output before it started is renamed once its pid is known, and
// the worker's log forwarder (worker/worker_process.cc) appends to that same
// name. Never replaces a file: if the worker was quicker, both stay.
// Returns the file's name.
std::string NameLogAfterPid(const std::string& log_file, pid_t pid) {
  const std::string suffix = ".out";
  if (log_file.size() < suffix.size()) return log_file;
  const std::string named =
      log_file.substr(0, log_file.size() - suffix.size()) + "-" + std::to_string(pid) + suffix;
  if (::renameat2(AT_FDCWD, log_file.c_str(), AT_FDCWD, named.c_str(), RENAME_NOREPLACE) != 0) {
    return log_file;
  }
  return named;
}

}  // namespace

absl::Status WorkerPool::StartWorker(const JobId& job_id, Job& job) {
  std::optional<WorkerPorts> ports = ports_.Take();
  if (!ports) {
    return absl::ResourceExhaustedError(
        "no free port for a worker of job " + job_id.Hex() + ": the worker port range " + ports_.RangeText() +
        " (--min-worker-port/--max-worker-port) has no 2 free ports left, " + std::to_string(ports_.num_held()) +
        " of them held by this node's " + std::to_string(NumWorkers()) +
        " workers, any others by other programs; widen the range");
  }
  WorkerId id = WorkerId::FromRandom();
  std::string error;
  ProcessOptions process = MakeProcessOptions(job, id, &error);
  process.env[kWorkerPortsEnv] = ports_.enabled() ? FormatWorkerPorts(*ports) : "";
  absl::StatusOr<pid_t> pid =
      error.empty() ? launcher_.Start(process) : absl::FailedPreconditionError(error);
  if (!pid.ok()) {
    ports_.GiveBack(*ports);
    std::string message = "cannot start a worker for job " + job_id.Hex() + ": " +
                          std::string(pid.status().message());
    LOG(ERROR) << message;
    ++total_start_failures_;
    RecordStartFailure(job, message);
    return absl::Status(pid.status().code(), message);
  }
  ports_.Assign(*pid, *ports);
  WorkerInfo& worker = workers_[id];
  worker.id = id;
  worker.job = job_id;
  worker.pid = *pid;
  worker.started_ms = clock_.MonotonicMs();
  worker.log_file = NameLogAfterPid(process.log_file, *pid);
  worker_by_pid_[*pid] = id;
  ++job.num_workers;
  ++job.num_starting;
  ++total_starting_;
  ++total_started_;
  VLOG(1) << "started worker " << id.Hex() << " pid " << *pid << " for job " << job_id.Hex();
  return absl::OkStatus();
}

ProcessOptions WorkerPool::MakeProcessOptions(const Job& job, const WorkerId& id,
                                              std::string* error) const {
  ProcessOptions process;
  const rpc::JobInfo& info = job.info;
  std::string executable;
  if (info.code_search_path_size() > 0) {
    executable = options_.lumen_worker_path;
    if (executable.empty()) *error = "lumen-worker not found (set LUMEN_BIN_DIR)";
  } else {
    executable = info.driver_executable();
    if (executable.empty())
      *error = "the job has neither a code search path nor a driver executable";
  }
  process.argv = {executable};
  process.env = {
      {"LUMEN_WORKER_MODE", "1"},
      {"LUMEN_RAYLET_ADDRESS", options_.raylet_address},
      {"LUMEN_GCS_ADDRESS", options_.gcs_address},
      {"LUMEN_JOB_ID", JobId::FromBinaryOrNil(info.job_id()).Hex()},
      {"LUMEN_WORKER_ID", id.Hex()},
      {"LUMEN_NODE_IP", options_.node_ip},
      {"LUMEN_NODE_ID", options_.node_id_hex},
      {"LUMEN_TOKEN", options_.token},
      {"LUMEN_CODE_SEARCH_PATH", absl::StrJoin(info.code_search_path(), ":")},
      {"LUMEN_SESSION_DIR", options_.session_dir},
      {"LUMEN_PLASMA_SOCKET", options_.plasma_socket},
  };
  if (!options_.session_dir.empty()) {
    process.log_file = options_.session_dir + "/logs/worker-" + id.Hex() + ".out";
  }
  process.new_process_group = true;
  process.die_with_parent = true;
  return process;
}

void WorkerPool::RecordStartFailure(Job& job, const std::string& error) {
  ++job.failed_starts;
  job.last_failure_ms = clock_.MonotonicMs();
  job.last_failure = error;
}

bool WorkerPool::StartsSuspended(const Job& job) const {
  return job.failed_starts >= options_.max_failed_starts &&
         clock_.MonotonicMs() - job.last_failure_ms < options_.start_retry_backoff_ms;
}

absl::StatusOr<const WorkerInfo*> WorkerPool::RegisterWorker(const WorkerId& id,
                                                             const JobId& job_id, pid_t pid,
                                                             int port) {
  auto it = workers_.find(id);
  if (it == workers_.end()) {
    auto by_pid = worker_by_pid_.find(pid);
    if (by_pid != worker_by_pid_.end()) it = workers_.find(by_pid->second);
  }
  if (it == workers_.end() || it->second.job != job_id) {
    return absl::NotFoundError("worker " + id.Hex() + " (pid " + std::to_string(pid) + ") of job " +
                               job_id.Hex() + " was not started by this raylet");
  }
  WorkerInfo& worker = it->second;
  if (worker.state != WorkerState::kStarting) return &worker;  // A retried registration.
  Job& job = jobs_.at(job_id);
  --job.num_starting;
  --total_starting_;
  job.failed_starts = 0;
  worker.port = port;
  MakeIdle(worker, job);
  return &worker;
}

void WorkerPool::MakeIdle(WorkerInfo& worker, Job& job) {
  worker.state = WorkerState::kIdle;
  worker.idle_since_ms = clock_.MonotonicMs();
  worker.idle_pos = job.idle.insert(job.idle.end(), worker.id);
}

const WorkerInfo* WorkerPool::PopIdle(const JobId& job_id) {
  auto it = jobs_.find(job_id);
  if (it == jobs_.end() || it->second.idle.empty()) return nullptr;
  WorkerInfo& worker = workers_.at(it->second.idle.back());
  it->second.idle.pop_back();
  worker.state = WorkerState::kLeased;
  return &worker;
}

void WorkerPool::PushIdle(const WorkerId& id) {
  auto it = workers_.find(id);
  if (it == workers_.end() || it->second.state != WorkerState::kLeased) return;
  if (!it->second.actor.IsNil()) return;  // Dedicated: never reused.
  MakeIdle(it->second, jobs_.at(it->second.job));
}

void WorkerPool::Dedicate(const WorkerId& id, const ActorId& actor, bool detached) {
  auto it = workers_.find(id);
  if (it == workers_.end() || it->second.state != WorkerState::kLeased) return;
  WorkerInfo& worker = it->second;
  if (worker.actor.IsNil()) ++jobs_.at(worker.job).num_dedicated;
  worker.actor = actor;
  worker.detached = detached;
}

void WorkerPool::KillWorker(const WorkerId& id, const std::string& reason) {
  Kill(id, reason, /*announce=*/true);
}

void WorkerPool::Kill(const WorkerId& id, const std::string& reason, bool announce) {
  auto it = workers_.find(id);
  if (it == workers_.end()) return;
  LOG(INFO) << "killing worker " << id.Hex() << " pid " << it->second.pid << ": " << reason;
  launcher_.KillGroup(it->second.pid, SIGKILL);
  DeadWorker dead = Forget(id, "killed by the raylet: " + reason);
  if (announce && on_worker_gone_) on_worker_gone_(dead);
}

void WorkerPool::KillAll() {
  std::vector<WorkerId> all;
  for (const auto& [id, worker] : workers_) all.push_back(id);
  for (const auto& id : all) Kill(id, "raylet shutting down", /*announce=*/false);
}

DeadWorker WorkerPool::Forget(const WorkerId& id, std::string cause) {
  auto it = workers_.find(id);
  WorkerInfo& worker = it->second;
  DeadWorker dead{worker.id,        worker.job,   worker.pid, worker.state != WorkerState::kStarting,
                  std::move(cause), worker.actor};
  auto job_it = jobs_.find(worker.job);
  if (job_it != jobs_.end()) {
    Job& job = job_it->second;
    --job.num_workers;
    if (!worker.actor.IsNil()) --job.num_dedicated;
    if (worker.state == WorkerState::kStarting) --job.num_starting;
    if (worker.state == WorkerState::kIdle) job.idle.erase(worker.idle_pos);
  }
  if (worker.state == WorkerState::kStarting) --total_starting_;
  worker_by_pid_.erase(worker.pid);
  workers_.erase(it);
  return dead;
}

std::vector<DeadWorker> WorkerPool::ReapExited() {
  std::vector<DeadWorker> dead;
  for (const ExitedProcess& exited : launcher_.ReapExited()) {
    ports_.ReleaseOf(exited.pid);  // Killed ones too: their ports are free only now.
    auto by_pid = worker_by_pid_.find(exited.pid);
    if (by_pid == worker_by_pid_.end()) continue;  // Already killed and forgotten.
    const WorkerId id = by_pid->second;
    const WorkerInfo& worker = workers_.at(id);
    if (worker.state == WorkerState::kStarting) {
      auto job = jobs_.find(worker.job);
      std::string message = "worker pid " + std::to_string(worker.pid) +
                            " exited before registering (" + exited.cause + "); see " +
                            worker.log_file;
      if (job != jobs_.end()) RecordStartFailure(job->second, message);
      LOG(WARNING) << message;
    } else {
      LOG(INFO) << "worker " << worker.id.Hex() << " pid " << worker.pid
                << " exited: " << exited.cause;
    }
    dead.push_back(Forget(id, exited.cause));
    if (on_worker_gone_) on_worker_gone_(dead.back());
  }
  return dead;
}

void WorkerPool::Maintain() {
  KillExpired(clock_.MonotonicMs());
  for (auto& [job_id, job] : jobs_) {
    while (job.num_workers - job.num_dedicated < KeepCount(job) && !StartsSuspended(job) &&
           total_starting_ < options_.max_starting_workers) {
      if (!StartWorker(job_id, job).ok()) break;
    }
  }
}

void WorkerPool::KillExpired(int64_t now) {
  std::vector<WorkerId> unregistered;
  for (const auto& [id, worker] : workers_) {
    if (worker.state == WorkerState::kStarting &&
        now - worker.started_ms >= options_.register_timeout_ms) {
      unregistered.push_back(id);
    }
  }
  for (const auto& id : unregistered) {
    auto job = jobs_.find(workers_.at(id).job);
    if (job != jobs_.end()) RecordStartFailure(job->second, "a worker did not register in time");
    KillWorker(id, "did not register in time");
  }
  for (auto& [job_id, job] : jobs_) {
    while (job.num_workers - job.num_dedicated > KeepCount(job) && !job.idle.empty() &&
           now - workers_.at(job.idle.front()).idle_since_ms >= options_.idle_timeout_ms) {
      KillWorker(job.idle.front(), "idle");
    }
  }
}

const WorkerInfo* WorkerPool::Get(const WorkerId& id) const {
  auto it = workers_.find(id);
  return it == workers_.end() ? nullptr : &it->second;
}

int WorkerPool::NumIdle() const {
  int idle = 0;
  for (const auto& [job_id, job] : jobs_) idle += static_cast<int>(job.idle.size());
  return idle;
}

std::vector<rpc::WorkerStats> WorkerPool::Stats() const {
  std::vector<rpc::WorkerStats> stats;
  for (const auto& [id, worker] : workers_) {
    rpc::WorkerStats& out = stats.emplace_back();
    out.set_worker_id(id.Binary());
    out.set_job_id(worker.job.Binary());
    out.set_pid(worker.pid);
    out.set_port(worker.port);
    out.set_state(worker.state == WorkerState::kStarting ? "STARTING"
                  : worker.state == WorkerState::kIdle   ? "IDLE"
                                                         : "LEASED");
    if (!worker.actor.IsNil()) out.set_actor_id(worker.actor.Binary());
  }
  for (const auto& [id, job] : jobs_) {
    if (job.driver.IsNil()) continue;
    rpc::WorkerStats& out = stats.emplace_back();
    out.set_worker_id(job.driver.Binary());
    out.set_job_id(id.Binary());
    out.set_pid(job.driver_pid);
    out.set_port(job.driver_port);
    out.set_state("DRIVER");
    out.set_is_driver(true);
  }
  return stats;
}

std::vector<pid_t> WorkerPool::Pids() const {
  std::vector<pid_t> pids;
  for (const auto& [id, worker] : workers_) pids.push_back(worker.pid);
  return pids;
}

}  // namespace lumen::raylet
