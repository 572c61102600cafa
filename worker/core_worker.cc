#include "worker/core_worker.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <chrono>
#include <future>
#include <thread>

#include "common/rpc/retry.h"
#include "common/status.h"
#include "common/worker_ports.h"

#include "common/logging.h"
#include "ray/api/ray_exception.h"
#include "worker/core_worker_service.h"
#include "worker/placement_group_spec.h"
#include "worker/scheduling_options.h"
#include "worker/object_writer.h"

namespace lumen::worker {
namespace {

constexpr int kDefaultMaxRetries = 3;
constexpr int64_t kRpcTimeoutMs = 10000;

// Reads of objects held by other nodes go through the local raylet, which
// copies them into this node's store (docs/objects.md, "Between nodes").
ObjectGetter::PullFn PullThrough(RayletClient& raylet) {
  return [&raylet](const ObjectId& id, const std::string& node, int64_t timeout_ms) {
    rpc::PullObjectRequest request;
    request.set_object_id(id.Binary());
    request.add_node_ids(node);
    return raylet.CallSync(&rpc::RayletService::Stub::PullObject, request, timeout_ms).status();
  };
}

std::mutex g_print_mu;

// The ports the raylet gave this worker (common/worker_ports.h); {0, 0},
// any free port, for drivers and without a worker port range.
absl::StatusOr<WorkerPorts> AssignedPorts(bool is_driver) {
  const char* env = std::getenv(kWorkerPortsEnv);
  if (is_driver || env == nullptr) return WorkerPorts{};
  return ParseWorkerPorts(env);
}

}  // namespace

CoreWorker::CoreWorker(CoreWorkerOptions options)
    : options_(std::move(options)),
      clients_(options_.token),
      refs_([this](const ObjectId& id, bool owned, bool in_plasma) { OnFree(id, owned, in_plasma); }),
      lineage_(Lineage::MaxBytesFromEnv()),
      gate_(&loop_, options_.token),
      server_(options_.node_ip, AssignedPorts(options_.is_driver).value_or(WorkerPorts{}).grpc, options_.token) {}

absl::StatusOr<std::unique_ptr<CoreWorker>> CoreWorker::Start(CoreWorkerOptions options) {
  std::unique_ptr<CoreWorker> worker(new CoreWorker(std::move(options)));
  RETURN_IF_ERROR(worker->Connect());
  return worker;
}

absl::Status CoreWorker::Connect() {
  loop_.StartThread();
  gcs_ = std::make_unique<rpc::RpcClient<rpc::GcsService>>(options_.gcs_address, options_.token, &loop_);
  raylet_ = std::make_unique<RayletClient>(options_.raylet_address, options_.token, &loop_);
  task_event_client_ =
      std::make_unique<rpc::RpcClient<rpc::TaskEventService>>(options_.gcs_address, options_.token, nullptr);
  task_events_ = std::make_unique<TaskEventRecorder>(
      TaskEventOptions::FromEnv(), [this](const rpc::AddTaskEventDataRequest& request) {
        return task_event_client_->CallSync(&rpc::TaskEventService::Stub::AddTaskEventData, request, 2000)
            .status();
      });
  if (options_.is_driver) {
    options_.worker_id = WorkerId::FromRandom();
    // Ray gives a driver without a namespace an anonymous one of its own.
    if (options_.ray_namespace.empty()) options_.ray_namespace = "anonymous-" + WorkerId::FromRandom().Hex().substr(0, 16);
    namespace_ = options_.ray_namespace;
  }
  if (TaskMetricsEnabled()) task_metrics_ = std::make_unique<TaskMetrics>();
  service_ = std::make_unique<CoreWorkerService>(*this, gate_);
  server_.RegisterService(service_.get());
  if (!options_.is_driver) {
    // Workers can be pushed tasks as soon as they register: be ready first,
    // with the node id the raylet gave us (the executor stamps results with it).
    if (options_.node_id.IsNil()) return absl::InvalidArgumentError("a worker needs its node id (LUMEN_NODE_ID)");
    node_id_ = options_.node_id;
    const char* socket = std::getenv("LUMEN_PLASMA_SOCKET");
    ASSIGN_OR_RETURN(plasma_, plasma::PlasmaClient::Connect(socket ? socket : ""));
    getter_ = std::make_unique<ObjectGetter>(loop_, store_, refs_, plasma_, clients_, options_.worker_id,
                                             [this](bool b) { NotifyBlocked(b); });
    getter_->SetPuller(node_id_.Binary(), PullThrough(*raylet_));
    getter_->SetRebuilder([this](const ObjectId& id, const StoredObjectPtr& lost) { return RebuildLost(id, lost); });
    getter_->SetPulledHook([this](const ObjectId& id, const std::string& owner) { OnPulled(id, owner); });
    executor_ = std::make_unique<TaskExecutor>(*getter_, plasma_, node_id_, options_.node_ip);
    executor_->set_task_events(task_events_.get());
    RETURN_IF_ERROR(StartTaskChannel());
  }
  ASSIGN_OR_RETURN(int port, server_.Start());
  address_.set_ip(options_.node_ip);
  address_.set_port(port);
  address_.set_worker_id(options_.worker_id.Binary());
  if (options_.is_driver) {
    RETURN_IF_ERROR(RegisterDriverJob());
  } else {
    RETURN_IF_ERROR(RegisterWithRaylet());
  }
  // The store deletes this process's ray::Put primaries when it exits,
  // however it exits (docs/plasma.md, "Owners and spilling").
  if (plasma_) RETURN_IF_ERROR(plasma_->Identify(options_.worker_id.Binary()));
  if (options_.is_driver) {
    getter_ = std::make_unique<ObjectGetter>(loop_, store_, refs_, plasma_, clients_, options_.worker_id,
                                             std::function<void(bool)>());
    getter_->SetPuller(node_id_.Binary(), PullThrough(*raylet_));
    getter_->SetRebuilder([this](const ObjectId& id, const StoredObjectPtr& lost) { return RebuildLost(id, lost); });
    getter_->SetPulledHook([this](const ObjectId& id, const std::string& owner) { OnPulled(id, owner); });
  }
  owner_blob_ = address_.SerializeAsString();
  StartTaskEvents();
  metrics_reporter_ = std::make_unique<MetricsReporter>(*raylet_, options_.worker_id.Binary());
  metrics_reporter_->Start();
  lease_client_ = std::make_unique<RayletLeaseClient>(*raylet_, options_.token, &loop_);
  pusher_ = std::make_unique<PooledTaskPusher>(clients_);
  submitter_ = std::make_unique<TaskSubmitter>(
      loop_, *lease_client_, *pusher_,
      TaskSubmitter::Callbacks{
          [this](const rpc::TaskSpec& s, rpc::PushTaskReply&& r, const rpc::PushTasksReply& batch) {
            OnTaskReply(s, std::move(r), batch);
          },
          [this](const rpc::TaskSpec& s, const rpc::ErrorInfo& e) { OnTaskFailure(s, e); },
          [this](const rpc::TaskSpec& s) { WarnIfInfeasible(s); }},
      TaskSubmitter::Options{.caller = options_.worker_id, .caller_address = address_,
                             .exempt_from_limit = [this](int64_t n) { in_flight_.Exempt(n); }});
  resolver_ = std::make_unique<DependencyResolver>(
      loop_, store_, options_.worker_id.Binary(),
      DependencyResolver::Callbacks{
          [this](rpc::TaskSpec&& s, bool had_refs) { OnResolved(std::move(s), had_refs); },
          [this](rpc::TaskSpec&& s, const rpc::ErrorInfo& e) { OnArgumentFailed(std::move(s), e); }});
  actor_directory_ = std::make_unique<GcsActorDirectory>(*gcs_);
  actor_submitter_ = std::make_unique<ActorSubmitter>(
      loop_, *actor_directory_, *pusher_,
      ActorSubmitter::Callbacks{
          [this](const rpc::TaskSpec& s, rpc::PushTaskReply&& r, const rpc::PushTasksReply& batch) {
            OnTaskReply(s, std::move(r), batch);
          },
          [this](const rpc::TaskSpec& s, const rpc::ErrorInfo& e) { OnTaskFailure(s, e); }},
      ActorSubmitter::Options{.caller = options_.worker_id, .caller_address = address_});
  if (executor_) {
    executor_->SetRefHook([this](TaskRefScope& scope, rpc::PushTaskReply* reply) { AfterTaskRefs(scope, reply); });
    executor_->SetActorExitHandler([this](const std::string& actor_id) {
      try {
        KillActor(actor_id, /*no_restart=*/true, "the actor exited by calling ray::ExitActor()");
      } catch (const std::exception& e) {
        LOG(WARNING) << "ExitActor: " << e.what();
      }
    });
  }
  return absl::OkStatus();
}

void CoreWorker::StartTaskEvents() {
  task_events_->SetProcess(options_.job_id.Binary(), node_id_.Binary(), options_.worker_id.Binary());
  task_events_->Start();
  // A driver's first flush would otherwise pay for the handshake in the
  // middle of its first burst of tasks. (A worker connects when it first
  // has something to send: most never do.)
  if (options_.is_driver && task_events_->enabled()) task_event_client_->Connect();
}

absl::Status CoreWorker::StartTaskChannel() {
  TaskExecutor* executor = executor_.get();
  task_channel_ = std::make_unique<TaskChannelServer>(
      options_.token, [executor](std::shared_ptr<rpc::PushTasksRequest> request,
                                 TaskChannelServer::Reply send) {
        auto reply = std::make_shared<rpc::PushTasksReply>();
        executor->EnqueueBatch(
            request.get(), reply.get(),
            [request, reply, send = std::move(send)](absl::Status) { send(*reply); },
            /*may_run_here=*/true);
      });
  ASSIGN_OR_RETURN(WorkerPorts ports, AssignedPorts(options_.is_driver));
  ASSIGN_OR_RETURN(task_port_, task_channel_->Start(options_.node_ip, ports.task_channel));
  return absl::OkStatus();
}

rpc::JobInfo CoreWorker::DriverJobInfo() const {
  rpc::JobInfo job;
  job.set_job_id(options_.job_id.Binary());
  job.set_driver_pid(::getpid());
  *job.mutable_driver_address() = address_;
  job.set_driver_executable(options_.driver_executable);
  for (const auto& p : options_.code_search_path) job.add_code_search_path(p);
  job.set_namespace_(options_.ray_namespace);
  return job;
}

// Registers this driver's job with the GCS, which assigns the job id.
absl::Status CoreWorker::AddJob() {
  rpc::AddJobRequest request;
  *request.mutable_job() = DriverJobInfo();
  // A lost reply is asked again under the same request id, which the GCS
  // answers with the job the first call created (no orphan job).
  request.set_request_id(WorkerId::FromRandom().Binary());
  auto reply = rpc::RetryLost(
      [&] { return gcs_->CallSync(&rpc::GcsService::Stub::AddJob, request, kRpcTimeoutMs); });
  if (!reply.ok()) {
    return absl::UnavailableError("cannot register the job with the GCS at " +
                                  options_.gcs_address + ": " + reply.status().ToString());
  }
  ASSIGN_OR_RETURN(options_.job_id, JobId::FromBinary(reply->job_id()));
  return absl::OkStatus();
}

// A GCS restarted without Redis may hand out the id of a job still running
// on this node before the raylet has reported it (docs/gcs.md, "Job ids");
// the raylet then refuses us with AlreadyExists and we ask for another id.
absl::Status CoreWorker::RegisterDriverJob() {
  constexpr int kAttempts = 20;
  absl::Status refused;
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    RETURN_IF_ERROR(AddJob());
    refused = RegisterWithRaylet();
    if (!absl::IsAlreadyExists(refused)) return refused;
    LOG(WARNING) << refused.message() << "; asking the GCS for another job id";
    std::this_thread::sleep_for(std::chrono::milliseconds(100 * (attempt + 1)));
  }
  return refused;
}

absl::Status CoreWorker::RegisterWithRaylet() {
  rpc::RegisterWorkerRequest request;
  request.set_worker_id(options_.worker_id.Binary());
  request.set_job_id(options_.job_id.Binary());
  request.set_pid(::getpid());
  request.set_port(address_.port());
  request.set_is_driver(options_.is_driver);
  if (options_.is_driver) *request.mutable_job() = DriverJobInfo();
  // A lost message is sent again (a driver's repeated registration is
  // recognised by its worker id).
  auto reply = rpc::RetryLost([&] {
    return raylet_->CallSync(&rpc::RayletService::Stub::RegisterWorker, request, kRpcTimeoutMs);
  });
  if (absl::IsAlreadyExists(reply.status())) return reply.status();
  if (!reply.ok()) {
    return absl::UnavailableError("cannot register with the raylet at " + options_.raylet_address +
                                  ": " + reply.status().ToString());
  }
  NodeId registered = NodeId::FromBinaryOrNil(reply->node_id());
  if (!node_id_.IsNil() && registered != node_id_) {
    return absl::FailedPreconditionError("registered with raylet of node " + registered.Hex() +
                                         ", expected " + node_id_.Hex());
  }
  node_id_ = registered;
  address_.set_node_id(reply->node_id());
  if (!plasma_) {
    auto plasma = plasma::PlasmaClient::Connect(reply->plasma_socket());
    if (!plasma.ok()) return plasma.status();
    plasma_ = std::move(*plasma);
  }
  return absl::OkStatus();
}

CoreWorker::~CoreWorker() {
  if (submitter_) {
    auto returned = std::make_shared<std::promise<void>>();
    loop_.Post([this, returned] {
      submitter_->ReturnAllLeases();
      returned->set_value();
    });
    returned->get_future().wait_for(std::chrono::seconds(2));
  }
  if (task_events_) task_events_->Stop();  // The last batch, while the GCS is still wanted.
  if (metrics_reporter_) metrics_reporter_->Stop();  // The last metrics, to the raylet.
  if (options_.is_driver && raylet_) {
    rpc::DisconnectWorkerRequest request;
    request.set_worker_id(options_.worker_id.Binary());
    (void)raylet_->CallSync(&rpc::RayletService::Stub::DisconnectWorker, request, 2000);
    rpc::MarkJobFinishedRequest done;
    done.set_job_id(options_.job_id.Binary());
    (void)gcs_->CallSync(&rpc::GcsService::Stub::MarkJobFinished, done, 2000);
  }
  long_polls_.AnswerAll();  // The server's Shutdown waits for every open call.
  server_.Shutdown();
  // Teardown order: nothing may run on the loop, or post into it, once
  // what it uses is gone. So the loop stops first (what is posted later is
  // dropped with it); then the task channels close, joining their readers;
  // then the submitter and its leases' connections go. The RPC clients
  // (members, destroyed before the loop) cancel and wait for their calls.
  if (actor_submitter_) actor_submitter_->Stop();
  loop_.StopAndJoin();
  clients_.CloseChannels();
  // Callbacks of calls still in flight (a worker's task port, a push) call
  // into the submitters: they finish or are cancelled before those go.
  clients_.ClearClients();
  submitter_.reset();
  task_channel_.reset();
  executor_.reset();
}

ray::internal::RefData CoreWorker::Put(std::string&& data) {
  if (data.size() > kMaxInlineReturnBytes) {
    return PutSerialized(data.size(),
                         [&data](char* dest) { std::memcpy(dest, data.data(), data.size()); });
  }
  ObjectId id = ObjectId::FromIndex(TaskId::ForNormalTask(options_.job_id), 0);
  refs_.AddOwned(id);
  auto object = std::make_shared<StoredObject>();
  object->data = std::move(data);
  store_.Put(id, object);
  return {id.Binary(), owner_blob_};
}

ray::internal::RefData CoreWorker::PutSerialized(size_t size,
                                                 const ray::internal::ValueWriter& write) {
  if (size <= kMaxInlineReturnBytes) {
    std::string data(size, '\0');
    write(data.data());
    return Put(std::move(data));
  }
  ObjectId id = ObjectId::FromIndex(TaskId::ForNormalTask(options_.job_id), 0);
  absl::Status st = WriteToPlasma(*plasma_, id, size, write);
  if (!st.ok()) throw ray::internal::RayException("ray::Put failed: " + st.ToString());
  refs_.AddOwned(id);
  refs_.MarkInPlasma(id);
  auto object = std::make_shared<StoredObject>();
  object->in_plasma = true;
  object->node_id = node_id_.Binary();
  store_.Put(id, object);
  return {id.Binary(), owner_blob_};
}

void CoreWorker::AcquireInFlight() {
  if (!options_.is_driver && ObjectGetter::InTask()) {
    in_flight_.Acquire([this](bool blocked) { NotifyBlocked(blocked); });
  } else {
    in_flight_.Acquire();
  }
}

ray::internal::RefData CoreWorker::SubmitTask(const std::string& function_name,
                                              std::vector<ray::internal::TaskArg>&& args,
                                              const ray::internal::TaskOptions& options) {
  AcquireInFlight();
  rpc::TaskSpec spec;
  spec.set_function_name(function_name);
  spec.set_name(options.name);
  for (const auto& [name, amount] : options.resources) (*spec.mutable_required_resources())[name] = amount;
  if (!spec.required_resources().count("CPU")) (*spec.mutable_required_resources())["CPU"] = 1;
  spec.set_max_retries(options.max_retries < 0 ? kDefaultMaxRetries : options.max_retries);
  spec.set_runtime_env_json(options.runtime_env_json);
  SetSchedulingStrategy(options, &spec);
  SetPlacementGroup(options, &spec);  // After the resources: it rewrites them.
  return Enqueue(std::move(spec), std::move(args));
}

ray::internal::RefData CoreWorker::Enqueue(rpc::TaskSpec&& spec,
                                           std::vector<ray::internal::TaskArg>&& args) {
  ray::internal::RefData ret = PrepareSpec(spec, std::move(args));
  QueueForLoop(std::move(spec));
  return ret;
}

void CoreWorker::QueueForLoop(rpc::TaskSpec&& spec) {
  // One wake-up of the loop per burst of submissions, not one per task.
  bool first;
  {
    std::lock_guard<std::mutex> lock(submit_mu_);
    first = submitted_.empty();
    submitted_.push_back(std::move(spec));
  }
  if (first) loop_.Post([this] { DrainSubmitted(); });
}

ray::internal::RefData CoreWorker::PrepareSpec(rpc::TaskSpec& spec,
                                               std::vector<ray::internal::TaskArg>&& args) {
  TaskId task = TaskId::ForNormalTask(options_.job_id);
  spec.set_task_id(task.Binary());
  spec.set_job_id(options_.job_id.Binary());
  spec.set_num_returns(1);
  for (auto& arg : args) {
    rpc::TaskArg* out = spec.add_args();
    if (!arg.is_ref && arg.value.size() > kMaxInlineReturnBytes) {
      // A large value travels through the store, as Ray does, not in the
      // task message: put here, referenced until the task finishes.
      arg.ref = Put(std::move(arg.value));
      arg.is_ref = true;
    }
    if (arg.is_ref) {
      out->set_is_ref(true);
      out->mutable_ref()->set_object_id(arg.ref.id);
      out->mutable_ref()->mutable_owner()->ParseFromString(arg.ref.owner);
      // Held until the task ends (ReleaseArgRefs), counted apart: `lumen
      // memory` says USED_BY_PENDING_TASK once the caller drops its refs.
      refs_.AddTaskArg(ObjectId::FromBinaryOrNil(arg.ref.id));
    } else {
      out->set_inline_value(std::move(arg.value));
    }
    // The refs inside the value: held since they were packed (object_ref.h),
    // released with the arguments when the task ends.
    for (const auto& nested : arg.nested) out->add_nested_ids(nested.id);
  }
  ObjectId return_id = ObjectId::FromIndex(task, 1);
  refs_.AddOwned(return_id);
  // A normal task's submission is recorded by the loop, with its burst
  // (DrainSubmitted); an actor call may leave from this thread.
  if (!spec.actor_id().empty()) task_events_->Submitted(spec);
  if (task_metrics_) task_metrics_->Submitted(spec.function_name());
  return {return_id.Binary(), owner_blob_};
}

void CoreWorker::AddLocalRef(const ray::internal::RefData& ref) {
  refs_.Add(ObjectId::FromBinaryOrNil(ref.id));
}

void CoreWorker::RemoveLocalRef(const std::string& id) {
  refs_.Remove(ObjectId::FromBinaryOrNil(id));
}

void CoreWorker::DrainSubmitted() {
  // draining_ goes back to the submitters emptied but with its capacity:
  // a burst does not regrow the queue (each growth moved every spec).
  {
    std::lock_guard<std::mutex> lock(submit_mu_);
    draining_.swap(submitted_);
  }
  // (Actor calls here were numbered, and recorded, at submission:
  // SubmitActorTask.)
  task_events_->SubmittedAll(draining_.data(), draining_.size(), /*normal_only=*/true);
  for (auto& spec : draining_) ResolveDependencies(std::move(spec));
  draining_.clear();
  if (draining_.capacity() > kMaxKeptQueue) std::vector<rpc::TaskSpec>().swap(draining_);
}

CoreWorker::Stats CoreWorker::GetStats() const {
  return {store_.Size(), refs_.Size(), in_flight_.in_flight(), store_.NumCallbacks(), lineage_.Size()};
}

void CoreWorker::OnFree(const ObjectId& id, bool owned, bool in_plasma) {
  // Copies on other nodes are freed there (core_worker_locations.cc).
  if (owned && in_plasma) FreeCopies(id, store_.GetIfReady(id));
  store_.Erase(id);
  if (owned && in_plasma) {
    if (plasma_) (void)plasma_->Delete({id});
    if (!lineage_.Empty()) DropLineage(id);  // Out of scope: no rebuild any more.
  }
}

void CoreWorker::NotifyBlocked(bool blocked) {
  rpc::NotifyBlockedRequest request;
  request.set_worker_id(options_.worker_id.Binary());
  request.set_blocked(blocked);
  (void)raylet_->CallSync(&rpc::RayletService::Stub::NotifyBlocked, request, kRpcTimeoutMs);
}

void CoreWorker::WaitForExit() {
  std::unique_lock<std::mutex> lock(exit_mu_);
  exit_cv_.wait(lock, [this] { return exit_requested_; });
}

void CoreWorker::RequestExit() {
  {
    std::lock_guard<std::mutex> lock(exit_mu_);
    exit_requested_ = true;
  }
  exit_cv_.notify_all();
}

void CoreWorker::HandlePushLogs(const rpc::PushLogsRequest& request) {
  std::lock_guard<std::mutex> lock(g_print_mu);
  for (const auto& line : request.lines()) {
    FILE* out = line.is_err() ? stderr : stdout;
    std::fprintf(out, "%s %s\n", line.prefix().c_str(), line.line().c_str());
  }
  std::fflush(stdout);
  std::fflush(stderr);
}

}  // namespace lumen::worker
