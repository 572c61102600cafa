// CoreWorker: the caller's side of actors: creation through the GCS, method
// calls through the ActorSubmitter, Kill, named lookups, the namespace.
#include <cstdio>

#include "common/rpc/retry.h"
#include "ray/api/ray_exception.h"
#include "worker/core_worker.h"
#include "worker/placement_group_spec.h"
#include "worker/scheduling_options.h"

namespace lumen::worker {
namespace {

constexpr int64_t kActorRpcTimeoutMs = 10000;

}  // namespace

std::string CoreWorker::GetNamespace() {
  std::lock_guard<std::mutex> lock(namespace_mu_);
  if (!namespace_.empty()) return namespace_;
  rpc::GetJobRequest request;
  request.set_job_id(options_.job_id.Binary());
  auto reply = rpc::RetryLost(
      [&] { return gcs_->CallSync(&rpc::GcsService::Stub::GetJob, request, kActorRpcTimeoutMs); });
  if (!reply.ok() || !reply->found()) {
    throw ray::internal::RayException(
        "cannot learn the job's namespace from the GCS: " +
        (reply.ok() ? std::string("job not found") : reply.status().ToString()));
  }
  namespace_ = reply->job().namespace_();
  return namespace_;
}

std::string CoreWorker::CreateActor(const std::string& factory_name,
                                    std::vector<ray::internal::TaskArg>&& args,
                                    const ray::internal::ActorOptions& options) {
  if (options.max_concurrency < 1) {
    throw ray::internal::RayException("SetMaxConcurrency: an actor needs at least one thread");
  }
  ActorId actor = ActorId::Of(options_.job_id);
  rpc::ActorInfo info;
  info.set_actor_id(actor.Binary());
  info.set_job_id(options_.job_id.Binary());
  info.set_name(options.name);
  info.set_ray_namespace(options.ray_namespace.empty() ? GetNamespace() : options.ray_namespace);
  info.set_max_restarts(options.max_restarts);
  info.set_max_task_retries(options.max_task_retries);
  info.set_detached(options.lifetime == 1 || (options.lifetime < 0 && options_.default_detached));
  info.set_class_name(factory_name);
  if (info.detached() && options.ray_namespace.empty() &&
      info.ray_namespace().rfind("anonymous-", 0) == 0) {
    std::fprintf(stderr,
                 "Warning: the detached actor %s is created in this driver's anonymous namespace "
                 "'%s'. To reach it from a later driver, that driver must use this namespace "
                 "(RayConfig::ray_namespace = \"%s\"), or give the actor a namespace "
                 "(SetName(name, ray_namespace)).\n",
                 factory_name.c_str(), info.ray_namespace().c_str(), info.ray_namespace().c_str());
  }

  rpc::TaskSpec* spec = info.mutable_creation_spec();
  spec->set_task_id(TaskId::ForNormalTask(options_.job_id).Binary());
  spec->set_job_id(options_.job_id.Binary());
  spec->set_function_name(factory_name);
  spec->set_name(factory_name);
  spec->set_num_returns(0);
  spec->set_actor_id(actor.Binary());
  spec->set_actor_creation(true);
  spec->set_max_concurrency(options.max_concurrency);
  spec->set_runtime_env_json(options.runtime_env_json);
  SetSchedulingStrategy(options, spec);
  *spec->mutable_caller() = address_;
  // An actor holds what it asks for while alive, and by default nothing
  // (Ray's actors hold 0 CPU once placed).
  for (const auto& [name, amount] : options.resources) (*spec->mutable_required_resources())[name] = amount;
  SetPlacementGroup(options, spec);  // After the resources: it rewrites them.
  for (auto& arg : args) {
    rpc::TaskArg* out = spec->add_args();
    if (arg.is_ref) {
      out->set_is_ref(true);
      out->mutable_ref()->set_object_id(arg.ref.id);
      out->mutable_ref()->mutable_owner()->ParseFromString(arg.ref.owner);
      // Held for this process's life: the factory may run again on a restart.
      AddLocalRef(arg.ref);
    } else {
      out->set_inline_value(std::move(arg.value));
    }
    // Refs inside the value stay held (since packing) for the same reason.
  }

  rpc::RegisterActorRequest request;
  *request.mutable_actor() = std::move(info);
  // A retried registration of the same actor id is the same registration.
  auto reply = rpc::RetryLost([&] {
    return gcs_->CallSync(&rpc::GcsService::Stub::RegisterActor, request, kActorRpcTimeoutMs);
  });
  if (absl::IsAlreadyExists(reply.status())) {
    throw ray::internal::RayException(std::string(reply.status().message()));
  }
  if (!reply.ok()) {
    throw ray::internal::RayException("cannot create the actor " + factory_name + ": " +
                                      reply.status().ToString());
  }
  return actor.Binary();
}

ray::internal::RefData CoreWorker::SubmitActorTask(const std::string& actor_id,
                                                   const std::string& method,
                                                   std::vector<ray::internal::TaskArg>&& args,
                                                   const ray::internal::TaskOptions& options) {
  if (!ActorId::FromBinary(actor_id).ok()) {
    throw ray::internal::RayException("not an actor handle (bad actor id)");
  }
  AcquireInFlight();
  rpc::TaskSpec spec;
  spec.set_function_name(method);
  spec.set_name(options.name);
  spec.set_actor_id(actor_id);
  ray::internal::RefData ret = PrepareSpec(spec, std::move(args));
  actor_submitter_->Submit(spec);  // Numbered now, in submission order.
  bool has_refs = false;
  for (const auto& arg : spec.args()) has_refs |= arg.is_ref();
  if (has_refs) {
    // Sent once the loop has resolved its arguments; later calls wait.
    QueueForLoop(std::move(spec));
  } else {
    // Nothing to wait for: straight to the actor from this thread.
    actor_submitter_->OnResolved(std::move(spec), nullptr, /*send_now=*/true);
  }
  return ret;
}

void CoreWorker::KillActor(const std::string& actor_id, bool no_restart, const std::string& cause) {
  rpc::KillActorRequest request;
  request.set_actor_id(actor_id);
  request.set_no_restart(no_restart);
  request.set_cause(cause);
  auto reply = rpc::RetryLost([&] {
    return gcs_->CallSync(&rpc::GcsService::Stub::KillActor, request, kActorRpcTimeoutMs);
  });
  if (!reply.ok()) {
    throw ray::internal::RayException("cannot kill the actor " +
                                      ActorId::FromBinaryOrNil(actor_id).Hex() + ": " +
                                      reply.status().ToString());
  }
  // Calls here learn the new state now, not when a connection breaks; a
  // call made after Kill returns never reaches the dying process.
  actor_submitter_->OnKilled(actor_id, no_restart);
}

std::string CoreWorker::GetActorId(const std::string& name, const std::string& ray_namespace) {
  rpc::GetActorInfoRequest request;
  request.set_name(name);
  request.set_ray_namespace(ray_namespace.empty() ? GetNamespace() : ray_namespace);
  auto reply = rpc::RetryLost([&] {
    return gcs_->CallSync(&rpc::GcsService::Stub::GetActorInfo, request, kActorRpcTimeoutMs);
  });
  if (!reply.ok()) {
    throw ray::internal::RayException("cannot look up the actor '" + name + "': " +
                                      reply.status().ToString());
  }
  if (!reply->found() || reply->actor().state() == rpc::ActorInfo::DEAD) return "";
  return reply->actor().actor_id();
}

}  // namespace lumen::worker
