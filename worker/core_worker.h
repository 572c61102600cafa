// worker/core_worker.h
//
// CoreWorker is the Lumen runtime inside one driver or worker process: it
// owns the objects this process creates (MemoryStore + ReferenceTable),
// submits tasks (TaskSubmitter), runs pushed tasks (TaskExecutor, workers
// only), answers borrowers (GetObjectStatus) and prints forwarded worker
// logs (drivers). It serves CoreWorkerService on its own gRPC port and runs
// its asynchronous work on one EventLoop thread.
// Threading: the public methods are thread-safe.
// Failure: Start returns a Status naming what could not be reached; the
// API methods throw ray::internal exceptions.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <unordered_map>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "common/id.h"
#include "common/rpc/client.h"
#include "common/rpc/server.h"
#include "plasma/client.h"
#include "proto/gcs.grpc.pb.h"
#include "proto/task_events.grpc.pb.h"
#include "proto/raylet.grpc.pb.h"
#include "proto/worker.grpc.pb.h"
#include "ray/api/runtime.h"
#include "worker/actor_submitter.h"
#include "worker/client_pool.h"
#include "worker/dependency_resolver.h"
#include "worker/in_flight_limit.h"
#include "worker/lineage.h"
#include "worker/long_polls.h"
#include "worker/memory_store.h"
#include "worker/object_getter.h"
#include "worker/object_locations.h"
#include "worker/reference_table.h"
#include "worker/task_channel.h"
#include "worker/task_events.h"
#include "worker/task_executor.h"
#include "worker/worker_metrics.h"
#include "worker/task_submitter.h"

namespace lumen::worker {

struct CoreWorkerOptions {
  bool is_driver = true;
  JobId job_id;        // Drivers: Nil (the GCS assigns one).
  WorkerId worker_id;  // Workers: given by the raylet.
  NodeId node_id;      // Workers: given by the raylet (drivers learn it at registration).
  std::string gcs_address;
  std::string raylet_address;
  std::string node_ip;
  std::string token;
  // Drivers: how this job's workers find the user's code.
  std::string driver_executable;
  std::vector<std::string> code_search_path;
  std::string ray_namespace;  // Drivers: empty picks an anonymous one, as Ray does.
  bool default_detached = false;  // RayConfig::default_actor_lifetime.
};

class CoreWorkerService;

class CoreWorker {
 public:
  static absl::StatusOr<std::unique_ptr<CoreWorker>> Start(CoreWorkerOptions options);
  ~CoreWorker();

  ray::internal::RefData SubmitTask(const std::string& function_name,
                                    std::vector<ray::internal::TaskArg>&& args,
                                    const ray::internal::TaskOptions& options);
  ray::internal::RefData Put(std::string&& data);
  // ray::Put of a value `write` serializes into `size` bytes: above the
  // inline limit straight into a pinned plasma object (worker/object_writer.h).
  ray::internal::RefData PutSerialized(size_t size, const ray::internal::ValueWriter& write);

  // Actors (core_worker_actors.cc; docs/actors.md). Throw RayException.
  std::string CreateActor(const std::string& factory_name, std::vector<ray::internal::TaskArg>&& args,
                          const ray::internal::ActorOptions& options);
  ray::internal::RefData SubmitActorTask(const std::string& actor_id, const std::string& method,
                                         std::vector<ray::internal::TaskArg>&& args,
                                         const ray::internal::TaskOptions& options);
  void KillActor(const std::string& actor_id, bool no_restart, const std::string& cause = "");
  std::string GetActorId(const std::string& name, const std::string& ray_namespace);
  bool WasCurrentActorRestarted() const { return executor_ && executor_->actor_restarted(); }
  // The job's namespace (workers ask the GCS once).
  std::string GetNamespace();
  std::vector<std::shared_ptr<ray::internal::Buffer>> Get(
      const ray::internal::RefList& refs, int64_t timeout_ms) {
    return getter_->Get(refs, timeout_ms);
  }
  std::vector<bool> Wait(const ray::internal::RefList& refs, int num_objects,
                         int64_t timeout_ms) {
    return getter_->Wait(refs, num_objects, timeout_ms);
  }
  void AddLocalRef(const ray::internal::RefData& ref);
  // The refs `nested` packed in the value of `outer` are held while it
  // lives; takes over the packer's reference on each (core_worker_refs.cc).
  void AdoptContained(const ray::internal::RefData& outer,
                      const std::vector<ray::internal::RefData>& nested);
  void RemoveLocalRef(const std::string& id);
  // Sums over alive nodes: total (`available` false) or available.
  std::unordered_map<std::string, double> Resources(bool available);

  // Workers: blocks until the raylet or the driver asks us to exit.
  void WaitForExit();
  void RequestExit();

  const JobId& job_id() const { return options_.job_id; }
  const rpc::Address& address() const { return address_; }
  TaskExecutor* executor() { return executor_.get(); }
  rpc::RpcClient<rpc::GcsService>& gcs() { return *gcs_; }
  // Task events of this process (docs/observability.md); never null after Start.
  TaskEventRecorder* task_events() { return task_events_.get(); }

  // CoreWorkerService handlers (loop thread or gRPC thread as noted there).
  void HandleWaitForRefRemoved(const rpc::WaitForRefRemovedRequest& request, rpc::Done done);
  void HandleGetReferences(rpc::GetReferencesReply* reply);
  void HandleGetObjectStatus(const rpc::GetObjectStatusRequest& request,
                             rpc::GetObjectStatusReply* reply, rpc::Done done);
  void HandlePushLogs(const rpc::PushLogsRequest& request);
  void HandleAddObjectLocation(const rpc::AddObjectLocationRequest& request);
  int task_port() const { return task_port_; }

  // Counters for tests and leak checks (any thread).
  struct Stats {
    size_t objects_in_store = 0;
    size_t references = 0;
    int64_t tasks_in_flight = 0;
    size_t borrower_waits = 0;  // Owner lookups waiting for a value.
    size_t lineage_specs = 0;   // Task specs kept to rebuild lost results (and evicted ids in scope).
  };
  Stats GetStats() const;

  // Tasks submitted and not finished, past which SubmitTask blocks.
  static constexpr int64_t kMaxTasksInFlight = 20000;
  static constexpr int64_t kResumeTasksAt = 15000;

 private:
  explicit CoreWorker(CoreWorkerOptions options);
  absl::Status Connect();
  // What this driver tells the GCS and the raylet about its job.
  rpc::JobInfo DriverJobInfo() const;
  absl::Status AddJob();
  absl::Status StartTaskChannel();
  void StartTaskEvents();
  absl::Status RegisterDriverJob();
  absl::Status RegisterWithRaylet();
  void OnTaskReply(const rpc::TaskSpec& spec, rpc::PushTaskReply&& reply, const rpc::PushTasksReply& batch);
  void OnTaskFailure(const rpc::TaskSpec& spec, const rpc::ErrorInfo& error);
  void StoreError(const rpc::TaskSpec& spec, const rpc::ErrorInfo& error);
  // Lineage reconstruction (core_worker_lineage.cc; docs/objects.md): keeps
  // the spec of a finished task whose result is in plasma while it may be
  // re-run, and re-runs it when a Get finds that result lost.
  void KeepLineage(const rpc::TaskSpec& spec);
  // Forgets `id`'s lineage and releases the holds it had on its arguments.
  void DropLineage(const ObjectId& id);
  absl::Status RebuildLost(const ObjectId& id, const StoredObjectPtr& lost);
  // A borrower could not read `id` from `lost_node`: rebuilds it when that
  // is still its location. False, with `reply` filled, when it cannot be.
  bool OnLostCopy(const ObjectId& id, const std::string& lost_node, rpc::GetObjectStatusReply* reply);
  void OnFree(const ObjectId& id, bool owned, bool in_plasma);
  // Copies on other nodes (core_worker_locations.cc; docs/objects.md,
  // "Between nodes"). A pull into this node finished: the owner learns of
  // the copy. The recorded copy of `lost` is gone: another known copy
  // becomes its location (true), else the caller rebuilds it. `object`, an
  // owned plasma object, went out of scope: each node holding it frees it.
  void OnPulled(const ObjectId& id, const std::string& owner_blob);
  bool FailOverToCopy(const ObjectId& id, const StoredObjectPtr& lost);
  void FreeCopies(const ObjectId& id, const StoredObjectPtr& object);
  void FlushRemoteFrees();
  // Node deaths, from the GCS (PollNodeChanges), once this process owns an
  // object in plasma on another node (docs/objects.md, "Node death and the
  // owner"). WatchNodeDeaths starts the poll (any thread, idempotent, one
  // atomic load when started); the rest runs on the loop. OnNodeDead
  // forgets the node's copies and, for each owned object whose recorded
  // location was there, reads another copy or rebuilds it now.
  void WatchNodeDeaths();
  void PollNodeDeaths();
  void OnNodeDead(const std::string& node);
  // Reference counting across processes (core_worker_refs.cc). On the task
  // thread, after a task that met refs: what its reply tells the caller.
  void AfterTaskRefs(TaskRefScope& scope, rpc::PushTaskReply* reply);
  // On a reply, before the arguments' holds go: holds for the borrower and
  // for the refs nested in the results.
  void HoldForRemotes(rpc::PushTaskReply& reply);
  // Polls `holder` (WaitForRefRemoved) for `ids` and runs `released` on
  // its answer (or failure).
  void WatchHolder(const rpc::Address& holder, const std::vector<ObjectId>& ids,
                   const ObjectId& contained_in, std::function<void()> released);
  void AskHolder(const rpc::Address& holder, std::shared_ptr<rpc::WaitForRefRemovedRequest> request,
                 std::function<void()> released, int attempt);
  static constexpr int kHolderAttempts = 5;
  // Runs `done` once every id is released but for `requester`'s holds.
  void WhenAllReleased(const std::vector<ObjectId>& ids, const std::string& requester,
                       std::function<void()> done);
  void NotifyBlocked(bool blocked);
  // Prints a warning when no node's total resources fit `spec`.
  void WarnIfInfeasible(const rpc::TaskSpec& spec);
  // The spec moves along (a TaskSpec's move costs a construction and a
  // swap: by value, each step paid it again).
  void ResolveDependencies(rpc::TaskSpec&& spec);
  void OnResolved(rpc::TaskSpec&& spec, bool had_refs);
  void OnArgumentFailed(rpc::TaskSpec&& spec, const rpc::ErrorInfo& error);
  // SubmitTask and SubmitActorTask: the arguments into `spec` (references
  // held until the task ends), the return owned, the spec queued for the loop.
  ray::internal::RefData Enqueue(rpc::TaskSpec&& spec, std::vector<ray::internal::TaskArg>&& args);
  // The part of Enqueue before the queue: ids, arguments, references.
  ray::internal::RefData PrepareSpec(rpc::TaskSpec& spec, std::vector<ray::internal::TaskArg>&& args);
  // Hands the spec to the loop (DrainSubmitted: dependencies, then submit).
  void QueueForLoop(rpc::TaskSpec&& spec);
  void AcquireInFlight();
  // Loop: takes the tasks SubmitTask queued since the last drain, in order.
  void DrainSubmitted();

  CoreWorkerOptions options_;
  rpc::Address address_;
  std::string owner_blob_;  // address_, serialized (RefData::owner).
  NodeId node_id_;
  EventLoop loop_;
  std::unique_ptr<rpc::RpcClient<rpc::GcsService>> gcs_;
  std::unique_ptr<RayletClient> raylet_;
  std::unique_ptr<TaskMetrics> task_metrics_;  // Null when LUMEN_TASK_METRICS=0.
  std::unique_ptr<MetricsReporter> metrics_reporter_;
  std::unique_ptr<rpc::RpcClient<rpc::TaskEventService>> task_event_client_;
  std::unique_ptr<TaskEventRecorder> task_events_;
  std::shared_ptr<plasma::PlasmaClient> plasma_;
  ClientPool clients_;
  LongPolls long_polls_;  // Before store_ and refs_: their callbacks hold its polls.
  MemoryStore store_;
  ReferenceTable refs_;
  Lineage lineage_;
  ObjectLocations locations_;  // Copies of owned objects beyond StoredObject::node_id.
  RemoteFrees remote_frees_;   // Flushed on the loop.
  std::atomic<bool> watching_nodes_{false};
  int64_t node_seq_ = 0;                         // Loop: the last PollNodeChanges seq seen.
  absl::flat_hash_set<std::string> dead_nodes_;  // Loop: deaths handled.
  InFlightLimit in_flight_{kMaxTasksInFlight, kResumeTasksAt};
  std::mutex submit_mu_;
  std::vector<rpc::TaskSpec> submitted_;  // Guarded by submit_mu_; drained on the loop.
  std::vector<rpc::TaskSpec> draining_;   // Loop: the drained specs (swapped with submitted_).
  static constexpr size_t kMaxKeptQueue = 16384;  // Specs of capacity kept between drains.
  std::unique_ptr<ObjectGetter> getter_;
  std::unique_ptr<RayletLeaseClient> lease_client_;
  std::unique_ptr<PooledTaskPusher> pusher_;
  std::unique_ptr<TaskSubmitter> submitter_;
  std::unique_ptr<DependencyResolver> resolver_;
  std::unique_ptr<GcsActorDirectory> actor_directory_;
  std::unique_ptr<ActorSubmitter> actor_submitter_;
  std::mutex namespace_mu_;
  std::string namespace_;  // Guarded by namespace_mu_; workers fill it lazily.
  std::unique_ptr<TaskExecutor> executor_;
  std::unique_ptr<TaskChannelServer> task_channel_;  // Workers only.
  int task_port_ = 0;
  rpc::CallGate gate_;
  std::unique_ptr<CoreWorkerService> service_;
  rpc::GrpcServer server_;
  std::mutex exit_mu_;
  std::condition_variable exit_cv_;
  bool exit_requested_ = false;
};

}  // namespace lumen::worker
