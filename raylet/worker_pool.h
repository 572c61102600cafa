// raylet/worker_pool.h
//
// WorkerPool starts, tracks and reuses the worker processes of one node,
// per job. Starting a process costs ~60 ms here, so when a driver registers
// the pool prestarts workers for its job and keeps that many around; idle
// workers beyond that count are killed after the idle timeout.
//
// Worker life: Start -> kStarting (process runs, not yet registered) ->
// RegisterWorker -> kIdle <-> kLeased (PopIdle / PushIdle) -> killed or
// exited. A worker that does not register within the registration timeout
// is killed. The pool owns no leases or resources: LeaseManager does.
// A leased worker may be dedicated to an actor (Dedicate): it never becomes
// idle again and does not count towards the job's prestarted workers.
//
// Jobs: a driver's registration creates its job (with prestarted workers);
// AddJob creates a job without a driver here, from the JobInfo the GCS sends
// with an actor lease: no prestarted workers, nothing to watch; idle
// workers of such a job die after the idle timeout. FinishJob may keep some
// workers (a detached actor's): the job then stays, driverless, for them.
// Every worker that is killed (but not by KillAll) or exits is announced to
// the WorkerGone listener, with its actor if dedicated.
//
// Threading: the raylet loop only. Failure: process starts that fail, or
// workers that die before registering, are counted per job; after
// max_failed_starts in a row the job's starts are suspended for
// start_retry_backoff_ms and EnsureStarting returns the last error, so the
// caller fails the job's waiting leases instead of forking forever.
//
// Worker ports: with a worker port range, every worker gets two ports of it
// in LUMEN_WORKER_PORTS (WorkerPortAllocator). When the range is full and a
// lease needs a worker (EnsureStarting): ports of killed workers come back
// when they are reaped; an idle worker of another job is killed to make
// room; a job with workers of its own waits for them; a job with none gets
// ResourceExhausted "no free port for a worker ...". Prestarts just stop.
#pragma once

#include <sys/types.h>

#include <functional>
#include <list>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/statusor.h"
#include "common/id.h"
#include "proto/common.pb.h"
#include "proto/raylet.pb.h"
#include "common/clock.h"
#include "raylet/process_launcher.h"
#include "raylet/worker_ports.h"

namespace lumen::raylet {

struct WorkerPoolOptions {
  std::string lumen_worker_path;  // Empty: jobs with a code search path cannot start workers.
  std::string raylet_address;     // ip:port of this raylet, for LUMEN_RAYLET_ADDRESS.
  std::string gcs_address;
  std::string node_ip;
  std::string node_id_hex;  // For LUMEN_NODE_ID: workers know their node from the start.
  std::string token;
  std::string session_dir;  // Worker logs go to <session_dir>/logs/.
  std::string plasma_socket;
  int num_prestart_workers = 1;  // Per job, kept while the job runs.
  int max_starting_workers = 2;  // Processes starting at once, whole node.
  int64_t register_timeout_ms = 30000;
  int64_t idle_timeout_ms = 10000;
  int max_failed_starts = 3;  // In a row, per job, before starts are suspended.
  int64_t start_retry_backoff_ms = 10000;
  // The worker port range (raylet/worker_ports.h); both 0: any free port.
  int min_worker_port = 0;
  int max_worker_port = 0;
  // Whether nothing else listens on a port of that range; null: assume so.
  std::function<bool(int port)> worker_port_is_free;
};

enum class WorkerState { kStarting, kIdle, kLeased };

struct WorkerInfo {
  WorkerId id;
  JobId job;
  pid_t pid = 0;
  int port = 0;
  WorkerState state = WorkerState::kStarting;
  int64_t started_ms = 0;
  int64_t idle_since_ms = 0;
  std::string log_file;
  std::list<WorkerId>::iterator idle_pos;  // Valid while kIdle.
  ActorId actor;          // Non-nil: dedicated to this actor (Dedicate).
  bool detached = false;  // The actor is detached: outlives its job's driver.
};

struct DeadWorker {
  WorkerId id;
  JobId job;
  pid_t pid = 0;
  bool was_registered = false;
  std::string cause;  // "exited with status 1", "killed by the raylet: <reason>", ...
  ActorId actor;      // Non-nil for a worker dedicated to an actor.
};

class WorkerPool {
 public:
  // `launcher` and `clock` are not owned and must outlive the pool.
  WorkerPool(ProcessLauncher& launcher, const Clock& clock, WorkerPoolOptions options);
  ~WorkerPool();  // Kills every worker still running.

  void set_raylet_address(std::string address) { options_.raylet_address = std::move(address); }
  // Called for every worker killed (KillWorker, FinishJob, expiry) or
  // reaped, after it is forgotten; not for KillAll (shutdown).
  void set_on_worker_gone(std::function<void(const DeadWorker&)> listener) {
    on_worker_gone_ = std::move(listener);
  }
  const WorkerPoolOptions& options() const { return options_; }

  // Jobs. A driver's registration creates the job and prestarts its workers;
  // registering the same driver again is a no-op.
  // AlreadyExists when another driver holds the job id here: two drivers are
  // never merged into one job (a GCS restarted without Redis may hand out
  // an id again; the refused driver asks the GCS for another).
  absl::Status RegisterDriver(const WorkerId& driver, pid_t driver_pid, const rpc::JobInfo& job,
                              int driver_port = 0);
  // Makes `job` known without a driver (no-op when known): its workers start
  // from `info` (driver_executable / code_search_path).
  void AddJob(const JobId& job, const rpc::JobInfo& info);
  // The JobInfo of every job with a registered driver here.
  std::vector<rpc::JobInfo> LiveJobs() const;
  bool HasJob(const JobId& job) const { return jobs_.contains(job); }
  std::optional<JobId> JobOfDriver(const WorkerId& driver) const;
  // Kills every worker of `job` not in `keep`, with `reason`. Without kept
  // workers the job is forgotten; with some it stays, driverless. Returns
  // the killed ids.
  std::vector<WorkerId> FinishJob(const JobId& job, const absl::flat_hash_set<WorkerId>& keep,
                                  const std::string& reason);
  // Workers of `job` dedicated to detached actors.
  std::vector<WorkerId> DetachedWorkers(const JobId& job) const;
  // Driverless jobs without workers (callers drop those nobody waits on).
  std::vector<JobId> EmptyDriverlessJobs() const;
  void DropJob(const JobId& job) { jobs_.erase(job); }
  // Jobs whose driver process is gone.
  std::vector<JobId> FindJobsWithDeadDrivers();

  // Starts workers of `job` until `wanted` are starting (bounded by
  // max_starting_workers for the node). Fails when the process cannot start
  // or the job's starts are suspended after repeated failures.
  absl::Status EnsureStarting(const JobId& job, int wanted);
  // A started worker announces itself: it becomes idle. Found by id, else by
  // pid (a worker that made up its own id). Fails for unknown workers.
  absl::StatusOr<const WorkerInfo*> RegisterWorker(const WorkerId& id, const JobId& job, pid_t pid,
                                                   int port);

  // The most recently idle worker of `job`, now kLeased; null if none.
  const WorkerInfo* PopIdle(const JobId& job);
  // A leased worker becomes idle again (not a dedicated one).
  void PushIdle(const WorkerId& id);
  // A leased worker is dedicated to `actor` for the rest of its life.
  void Dedicate(const WorkerId& id, const ActorId& actor, bool detached);
  // SIGKILLs the worker's process group and forgets it; the listener hears
  // "killed by the raylet: <reason>".
  void KillWorker(const WorkerId& id, const std::string& reason);
  void KillAll();

  // Collects workers whose process exited, forgetting them.
  std::vector<DeadWorker> ReapExited();
  // Kills workers idle past the timeout (beyond the prestart count) and
  // workers that never registered; tops prestarted workers back up.
  void Maintain();

  const WorkerInfo* Get(const WorkerId& id) const;
  int NumWorkers() const { return static_cast<int>(workers_.size()); }
  int NumIdle() const;
  int NumStarting() const { return total_starting_; }
  // Worker processes started, and starts that failed, since this raylet began.
  int64_t NumStarted() const { return total_started_; }
  int64_t NumStartFailures() const { return total_start_failures_; }
  std::vector<pid_t> Pids() const;
  // Every worker and registered driver (`lumen list workers`).
  std::vector<rpc::WorkerStats> Stats() const;

 private:
  struct Job {
    rpc::JobInfo info;
    WorkerId driver;
    pid_t driver_pid = 0;
    int driver_port = 0;  // Its CoreWorkerService port, for GetNodeStats.
    std::list<WorkerId> idle;  // Oldest idle first.
    int num_workers = 0;       // Starting + idle + leased.
    int num_dedicated = 0;     // Leased to actors; not part of the pool.
    int num_starting = 0;
    int failed_starts = 0;  // In a row; reset by a registration.
    int64_t last_failure_ms = 0;
    std::string last_failure;
  };

  absl::Status StartWorker(const JobId& job_id, Job& job);
  // EnsureStarting found the port range full (`full`, from StartWorker).
  absl::Status OnPortsExhausted(const JobId& job_id, const Job& job, absl::Status full);
  ProcessOptions MakeProcessOptions(const Job& job, const WorkerId& id, std::string* error) const;
  void RecordStartFailure(Job& job, const std::string& error);
  bool StartsSuspended(const Job& job) const;
  void KillExpired(int64_t now);
  // How many workers the job keeps: the prestart count with a driver here.
  int KeepCount(const Job& job) const {
    return job.driver.IsNil() ? 0 : options_.num_prestart_workers;
  }
  void Kill(const WorkerId& id, const std::string& reason, bool announce);
  DeadWorker Forget(const WorkerId& id, std::string cause);
  void MakeIdle(WorkerInfo& worker, Job& job);

  ProcessLauncher& launcher_;
  const Clock& clock_;
  WorkerPoolOptions options_;
  absl::flat_hash_map<JobId, Job> jobs_;
  absl::node_hash_map<WorkerId, WorkerInfo> workers_;  // Stable addresses.
  absl::flat_hash_map<pid_t, WorkerId> worker_by_pid_;
  int total_starting_ = 0;
  int64_t total_started_ = 0;
  int64_t total_start_failures_ = 0;
  WorkerPortAllocator ports_;
  std::function<void(const DeadWorker&)> on_worker_gone_;
};

}  // namespace lumen::raylet
