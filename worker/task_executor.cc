#include "worker/task_executor.h"

#include <unistd.h>

#include <chrono>
#include <typeinfo>

#include "common/logging.h"
#include "ray/api/ray_exception.h"
#include "worker/cuda_visible_devices.h"
#include "worker/function_registry.h"
#include "worker/object_writer.h"
#include "worker/task_env.h"

namespace lumen::worker {
namespace {

std::string EnvOrEmpty(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

}  // namespace

TaskExecutor::TaskExecutor(ObjectGetter& getter, std::shared_ptr<plasma::PlasmaClient> plasma,
                           NodeId node, std::string node_ip)
    : getter_(getter),
      plasma_(std::move(plasma)),
      node_(node),
      node_ip_(std::move(node_ip)),
      pid_(::getpid()),
      inherited_cuda_devices_(EnvOrEmpty("CUDA_VISIBLE_DEVICES")) {}

void TaskExecutor::Start(std::function<void()> after_task) {
  after_task_ = std::move(after_task);
  {
    std::lock_guard<std::mutex> lock(mu_);
    started_ = true;
  }
  thread_ = std::thread([this] { Loop(); });
}

TaskExecutor::~TaskExecutor() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  pool_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  for (auto& t : pool_) t.join();
}

std::string TaskExecutor::actor_id() const {
  std::lock_guard<std::mutex> lock(mu_);
  return actor_id_;
}

bool TaskExecutor::actor_restarted() const {
  std::lock_guard<std::mutex> lock(mu_);
  return actor_restarted_;
}

void TaskExecutor::EnqueueBatch(const rpc::PushTasksRequest* request, rpc::PushTasksReply* reply,
                                rpc::Done done, bool may_run_here) {
  Item item;
  for (const auto& task : request->tasks()) {
    rpc::PushTaskReply* one = reply->add_replies();
    // For the caller's record of the task's end (task_events.h), whatever
    // ends it here, a run or a refusal, and whatever this process records.
    one->set_attempt(task.spec().attempt());
    item.tasks.emplace_back(&task.spec(), one);
  }
  item.done = std::move(done);
  item.caller = &request->caller();
  // When the push reached this worker (SUBMITTED_TO_WORKER): one clock
  // read per push, carried back in each task's reply with who ran it.
  if (task_events_ && task_events_->enabled()) {
    item.received_ns = TaskEventRecorder::NowNs();
    task_events_->StampExecutor(reply);
  }
  std::vector<Item> ready;
  const rpc::TaskSpec* first = item.tasks.empty() ? nullptr : item.tasks.front().first;
  if (first && !first->actor_id().empty() && !first->actor_creation()) {
    // A push of actor calls: released in its caller's order.
    std::vector<Item> stale;
    bool ours;
    {
      std::lock_guard<std::mutex> lock(mu_);
      ours = actor_ && first->actor_id() == actor_id_;
      if (ours) {
        // (The count is read before `item` is moved into the call.)
        const int64_t count = static_cast<int64_t>(item.tasks.size());
        order_.Admit(first->caller_id(), first->caller_floor(), first->sequence_number(), count,
                     std::move(item), &ready, &stale);
      }
    }
    if (!ours) {
      Refuse(item, "this worker does not host the actor " +
                       ActorId::FromBinaryOrNil(first->actor_id()).Hex() +
                       " (it was restarted elsewhere)");
      return;
    }
    for (Item& s : stale) {
      Refuse(s, "the actor already ran this call, and its result was lost with a broken "
                "connection");
    }
  } else {
    ready.push_back(std::move(item));
  }
  Dispatch(ready, may_run_here);
}

void TaskExecutor::Refuse(Item& item, const std::string& error) {
  for (auto& [spec, reply] : item.tasks) SetError(*spec, rpc::ErrorInfo::ACTOR_DIED, "", error, reply);
  item.done(absl::OkStatus());
}

void TaskExecutor::Dispatch(std::vector<Item>& ready, bool may_run_here) {
  if (ready.empty()) return;
  bool run_here = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!pool_.empty()) {
      for (Item& item : ready) {
        auto batch = std::make_shared<PoolBatch>();
        batch->left = static_cast<int>(item.tasks.size());
        batch->done = std::move(item.done);
        batch->caller = item.caller;
        batch->received_ns = item.received_ns;
        if (item.tasks.empty()) batch->done(absl::OkStatus());
        for (auto& [spec, reply] : item.tasks) pool_queue_.push_back({spec, reply, batch});
      }
      pool_cv_.notify_all();
      return;
    }
    bool idle = started_ && !stopping_ && !running_ && queue_.empty();
    if (may_run_here && idle && ready.size() == 1) {
      running_ = true;
      run_here = true;
    } else {
      for (Item& item : ready) queue_.push_back(std::move(item));
      cv_.notify_one();
    }
  }
  if (!run_here) return;
  ObjectGetter::SetInTask(true);
  RunItem(ready.front());
  ObjectGetter::SetInTask(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
  }
  cv_.notify_one();
}

void TaskExecutor::PoolLoop() {
  ObjectGetter::SetInTask(true);
  while (true) {
    PoolTask task;
    {
      std::unique_lock<std::mutex> lock(mu_);
      pool_cv_.wait(lock, [this] { return stopping_ || !pool_queue_.empty(); });
      if (stopping_) return;
      task = std::move(pool_queue_.front());
      pool_queue_.pop_front();
    }
    RunOne(*task.spec, task.reply, task.batch->caller, task.batch->received_ns);
    if (task.batch->left.fetch_sub(1) == 1) {
      task.batch->done(absl::OkStatus());
      ReportExitOnce();
    }
  }
}

std::string TaskExecutor::CurrentLogPrefix() const {
  std::lock_guard<std::mutex> lock(mu_);
  if (current_name_.empty()) return "(pid=" + std::to_string(pid_) + ")";
  return "(" + current_name_ + " pid=" + std::to_string(pid_) + ")";
}

void TaskExecutor::Loop() {
  ObjectGetter::SetInTask(true);
  while (true) {
    Item item;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || (!queue_.empty() && !running_); });
      if (stopping_) return;
      item = std::move(queue_.front());
      queue_.pop_front();
      running_ = true;
    }
    RunItem(item);
    {
      std::lock_guard<std::mutex> lock(mu_);
      running_ = false;
    }
  }
}

void TaskExecutor::RunItem(Item& item) {
  for (auto& [spec, reply] : item.tasks) RunOne(*spec, reply, item.caller, item.received_ns);
  item.done(absl::OkStatus());
  ReportExitOnce();
}

void TaskExecutor::ReportExitOnce() {
  if (exiting_actor_ && on_actor_exit_ && !exit_reported_.exchange(true)) on_actor_exit_(actor_id_);
}

void TaskExecutor::RunOne(const rpc::TaskSpec& spec, rpc::PushTaskReply* reply,
                          const rpc::Address* caller, int64_t received_ns) {
  TaskRefScope refs_met(spec.has_caller() ? &spec.caller() : caller);
  bool actor_call = !spec.actor_id().empty() && !spec.actor_creation();
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_name_ = spec.name().empty() ? spec.function_name() : spec.name();
    // An actor's output is prefixed with its class, as Ray does: the part
    // of "Class::Method" (or "Class::Factory") before the last "::".
    if ((!spec.actor_id().empty() && spec.name().empty()) || spec.actor_creation()) {
      auto colons = spec.function_name().rfind("::");
      if (colons != std::string::npos && colons > 0) current_name_ = spec.function_name().substr(0, colons);
    }
  }
  // An actor keeps the GPUs (and environment) of its creation.
  if (!actor_call) SetVisibleGpus(spec);
  if (task_events_ && received_ns != 0) task_events_->Running(spec, received_ns);
  auto start = std::chrono::steady_clock::now();
  if (actor_call || spec.actor_creation() || spec.runtime_env_json().empty()) {
    Execute(spec, reply);
  } else {
    auto vars = EnvVarsOf(spec.runtime_env_json());
    if (!vars.ok()) {
      SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, "ray::internal::RayRuntimeEnvException",
               std::string(vars.status().message()), reply);
    } else {
      ScopedEnv env(*vars);
      Execute(spec, reply);
    }
  }
  if (ref_hook_ && (!refs_met.seen.empty() || !refs_met.returned.empty())) ref_hook_(refs_met, reply);
  std::fflush(stdout);
  std::fflush(stderr);
  if (after_task_) after_task_();
  if (task_events_ && received_ns != 0) {  // For the caller's record of the task's end.
    reply->set_received_ns(received_ns);
    reply->set_running_ns(task_events_->Executed(spec));
  }
  reply->set_exec_micros(std::chrono::duration_cast<std::chrono::microseconds>(
                             std::chrono::steady_clock::now() - start)
                             .count());
}

void TaskExecutor::CreateActor(const rpc::TaskSpec& spec,
                               const std::vector<ray::internal::ArgView>& args,
                               rpc::PushTaskReply* reply) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (actor_) {
      SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, "ray::internal::RayActorException",
               "this worker already hosts an actor", reply);
      return;
    }
    // Known to the factory too (ray::WasCurrentActorRestarted() in a
    // constructor, as in Ray).
    actor_restarted_ = spec.num_restarts() > 0;
  }
  auto factory = FunctionRegistry::Instance().FindFactory(spec.function_name());
  if (!factory) {
    SetError(spec, rpc::ErrorInfo::FUNCTION_NOT_FOUND, "",
             "actor factory '" + spec.function_name() +
                 "' is not registered in the worker: register it with RAY_REMOTE in the code the "
                 "worker loads (the driver executable or a library on the code search path)",
             reply);
    return;
  }
  auto vars = EnvVarsOf(spec.runtime_env_json());
  if (!vars.ok()) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, "ray::internal::RayRuntimeEnvException",
             std::string(vars.status().message()), reply);
    return;
  }
  for (const auto& [name, value] : *vars) ::setenv(name.c_str(), value.c_str(), 1);
  std::shared_ptr<void> instance;
  try {
    instance = (*factory)(args);
  } catch (const std::exception& e) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, DemangledTypeName(typeid(e).name()), e.what(), reply);
    return;
  } catch (...) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, "unknown exception", "(not a std::exception)",
             reply);
    return;
  }
  if (!instance) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, "ray::internal::RayActorException",
             "the actor factory returned a null pointer", reply);
    return;
  }
  int threads = std::max(1, spec.max_concurrency());
  std::lock_guard<std::mutex> lock(mu_);
  actor_ = std::move(instance);
  actor_id_ = spec.actor_id();
  actor_restarted_ = spec.num_restarts() > 0;
  if (threads > 1) {
    for (int i = 0; i < threads; ++i) pool_.emplace_back([this] { PoolLoop(); });
  }
}

void TaskExecutor::SetVisibleGpus(const rpc::TaskSpec& spec) {
  // Only ever overwrites the variable: see cuda_visible_devices.h for why
  // that, and nothing else, is safe while other threads read the environment.
  SetCudaVisibleDevices(VisibleDevicesForTask(inherited_cuda_devices_, spec.gpu_ids()));
}

void TaskExecutor::Execute(const rpc::TaskSpec& spec, rpc::PushTaskReply* reply) {
  std::vector<std::shared_ptr<ray::internal::Buffer>> held;
  std::vector<ray::internal::ArgView> args;
  args.reserve(spec.args_size());
  try {
    std::vector<ray::internal::RefData> refs;
    for (const auto& arg : spec.args()) {
      if (arg.is_ref()) refs.push_back({arg.ref().object_id(), arg.ref().owner().SerializeAsString()});
    }
    ray::internal::RefList ref_list;
    for (const auto& ref : refs) ref_list.push_back(&ref);
    if (!ref_list.empty()) held = getter_.Get(ref_list, -1);
    size_t next_ref = 0;
    for (const auto& arg : spec.args()) {
      if (arg.is_ref()) {
        const auto& b = held[next_ref++];
        args.push_back({b->data(), b->size(), b});  // ArrayView parameters share b.
      } else {
        args.push_back({arg.inline_value().data(), arg.inline_value().size()});
      }
    }
  } catch (const ray::internal::RayException& e) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, DemangledTypeName(typeid(e).name()),
             std::string("an argument could not be resolved: ") + e.what(), reply);
    return;
  }
  if (spec.actor_creation()) {
    CreateActor(spec, args, reply);
    return;
  }
  if (!spec.actor_id().empty()) {
    ExecuteMethod(spec, args, reply);
    held.clear();
    return;
  }
  auto invoker = FunctionRegistry::Instance().Find(spec.function_name());
  if (!invoker) {
    SetError(spec, rpc::ErrorInfo::FUNCTION_NOT_FOUND, "",
             "remote function '" + spec.function_name() +
                 "' is not registered in the worker: register it with RAY_REMOTE in the code the "
                 "worker loads (the driver executable or a library on the code search path)",
             reply);
    return;
  }
  try {
    ResultTarget target = ReturnTarget(spec);
    std::string result;
    {
      ScopedResultTarget scoped(&target);
      result = (*invoker)(args);
    }
    held.clear();
    args.clear();
    StoreResult(spec, std::move(result), target, reply);
  } catch (const std::exception& e) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, DemangledTypeName(typeid(e).name()), e.what(), reply);
  } catch (...) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, "unknown exception", "(not a std::exception)",
             reply);
  }
}

void TaskExecutor::ExecuteMethod(const rpc::TaskSpec& spec,
                                 const std::vector<ray::internal::ArgView>& args,
                                 rpc::PushTaskReply* reply) {
  auto method = FunctionRegistry::Instance().FindMethod(spec.function_name());
  if (!method) {
    SetError(spec, rpc::ErrorInfo::FUNCTION_NOT_FOUND, "",
             "actor method '" + spec.function_name() +
                 "' is not registered in the worker: register it with RAY_REMOTE(&Class::Method)",
             reply);
    return;
  }
  try {
    ResultTarget target = ReturnTarget(spec);
    std::string result;
    {
      ScopedResultTarget scoped(&target);
      result = (*method)(actor_.get(), args);
    }
    StoreResult(spec, std::move(result), target, reply);
  } catch (const ActorExitSignal&) {
    SetError(spec, rpc::ErrorInfo::ACTOR_DIED, "", "the actor exited by calling ray::ExitActor()",
             reply);
    exiting_actor_ = true;
  } catch (const std::exception& e) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, DemangledTypeName(typeid(e).name()), e.what(), reply);
  } catch (...) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, "unknown exception", "(not a std::exception)",
             reply);
  }
}

ResultTarget TaskExecutor::ReturnTarget(const rpc::TaskSpec& spec) const {
  ResultTarget target;
  target.plasma = plasma_.get();
  target.id = ObjectId::FromIndex(TaskId::FromBinaryOrNil(spec.task_id()), 1);
  target.min_size = kMaxInlineReturnBytes;
  // The caller owns the result: the store deletes it if the caller exits.
  const TaskRefScope* scope = TaskRefScope::Current();
  if (scope != nullptr && scope->caller != nullptr) target.owner = scope->caller->worker_id();
  return target;
}

void TaskExecutor::StoreResult(const rpc::TaskSpec& spec, std::string&& result,
                               const ResultTarget& target, rpc::PushTaskReply* reply) {
  rpc::ReturnObject* ret = reply->add_returns();
  ret->set_object_id(target.id.Binary());
  absl::Status st;
  if (target.written) {  // Serialized straight into the store (object_writer.h).
    ret->set_size(target.size);
    st = target.status;
  } else {
    ret->set_size(result.size());
    if (result.size() <= kMaxInlineReturnBytes) {
      ret->set_data(std::move(result));
      return;
    }
    st = plasma_->Put(target.id, result.data(), result.size(), nullptr, 0, /*pin=*/true, target.owner);
  }
  if (absl::IsUnavailable(st) && on_store_lost_) {  // The node is failing, not the task.
    on_store_lost_(st);
    reply->clear_returns();
    SetError(spec, rpc::ErrorInfo::WORKER_DIED, "",
             "the object store of this node went away while the task stored its result (" +
                 st.ToString() + ")",
             reply);
    return;
  }
  if (!st.ok() && !absl::IsAlreadyExists(st)) {  // AlreadyExists: a retry of a finished task.
    reply->clear_returns();
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, "ObjectStoreError",
             "cannot store the result in the object store: " + st.ToString(), reply);
    return;
  }
  ret->set_in_plasma(true);
  ret->set_node_id(node_.Binary());
}

void TaskExecutor::SetError(const rpc::TaskSpec& spec, rpc::ErrorInfo::Type type,
                            const std::string& type_name, const std::string& what,
                            rpc::PushTaskReply* reply) const {
  rpc::ErrorInfo* error = reply->mutable_error();
  error->set_type(type);
  error->set_exception_type(type_name);
  error->set_function_name(spec.function_name());
  error->set_pid(pid_);
  error->set_node_ip(node_ip_);
  std::string where = spec.function_name() + " (pid=" + std::to_string(pid_) + ", ip=" + node_ip_ + ")";
  if (type == rpc::ErrorInfo::TASK_EXCEPTION) {
    error->set_message("task " + where + " threw " + type_name + ": " + what);
  } else {
    error->set_message(what + " [task " + where + "]");
  }
}

}  // namespace lumen::worker
