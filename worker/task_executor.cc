#include "worker/task_executor.h"

#include <cxxabi.h>
#include <unistd.h>

#include <chrono>
#include <typeinfo>

#include "common/logging.h"
#include "ray/api/ray_exception.h"
#include "worker/cuda_visible_devices.h"
#include "worker/function_registry.h"

namespace lumen::worker {
namespace {

std::string Demangle(const char* name) {
  int status = 0;
  char* out = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string result = status == 0 && out ? out : name;
  std::free(out);
  return result;
}

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
  if (thread_.joinable()) thread_.join();
}

void TaskExecutor::EnqueueBatch(const rpc::PushTasksRequest* request, rpc::PushTasksReply* reply,
                                rpc::Done done, bool may_run_here) {
  Item item;
  for (const auto& task : request->tasks()) item.tasks.emplace_back(&task.spec(), reply->add_replies());
  item.done = std::move(done);
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool idle = started_ && !stopping_ && !running_ && queue_.empty();
    if (!may_run_here || !idle) {
      queue_.push_back(std::move(item));
      cv_.notify_one();
      return;
    }
    running_ = true;
  }
  ObjectGetter::SetInTask(true);
  RunItem(item);
  ObjectGetter::SetInTask(false);
  {
    std::lock_guard<std::mutex> lock(mu_);
    running_ = false;
  }
  cv_.notify_one();
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
  for (auto& [spec, reply] : item.tasks) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      current_name_ = spec->name().empty() ? spec->function_name() : spec->name();
    }
    SetVisibleGpus(*spec);
    auto start = std::chrono::steady_clock::now();
    Execute(*spec, reply);
    std::fflush(stdout);
    std::fflush(stderr);
    if (after_task_) after_task_();
    reply->set_exec_micros(std::chrono::duration_cast<std::chrono::microseconds>(
                               std::chrono::steady_clock::now() - start)
                               .count());
  }
  item.done(absl::OkStatus());
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
        args.push_back({b->data(), b->size()});
      } else {
        args.push_back({arg.inline_value().data(), arg.inline_value().size()});
      }
    }
  } catch (const ray::internal::RayException& e) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, Demangle(typeid(e).name()),
             std::string("an argument could not be resolved: ") + e.what(), reply);
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
    std::string result = (*invoker)(args);
    held.clear();
    StoreResult(spec, std::move(result), reply);
  } catch (const std::exception& e) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, Demangle(typeid(e).name()), e.what(), reply);
  } catch (...) {
    SetError(spec, rpc::ErrorInfo::TASK_EXCEPTION, "unknown exception", "(not a std::exception)",
             reply);
  }
}

void TaskExecutor::StoreResult(const rpc::TaskSpec& spec, std::string&& result,
                               rpc::PushTaskReply* reply) {
  TaskId task = TaskId::FromBinaryOrNil(spec.task_id());
  ObjectId id = ObjectId::FromIndex(task, 1);
  rpc::ReturnObject* ret = reply->add_returns();
  ret->set_object_id(id.Binary());
  ret->set_size(result.size());
  if (result.size() <= kMaxInlineReturnBytes) {
    ret->set_data(std::move(result));
    return;
  }
  absl::Status st = plasma_->Put(id, result.data(), result.size(), nullptr, 0, /*pin=*/true);
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
