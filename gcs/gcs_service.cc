#include "gcs/gcs_service.h"

#include <algorithm>

#include "common/logging.h"
#include "gcs/node_manager.h"

namespace lumen::gcs {

using rpc::Done;

GcsServiceImpl::Reactor* GcsServiceImpl::RegisterNode(Ctx* ctx, const rpc::RegisterNodeRequest* req,
                                                      rpc::RegisterNodeReply* reply) {
  return gate_.HandleInLoop(ctx, "RegisterNode", [this, req, reply](Done done) {
    for (const auto& job : req->live_jobs()) {
      if (auto st = state_.jobs.Restore(job); !st.ok()) {
        LOG(WARNING) << "node " << IdHex(req->node().node_id()) << ": " << st;
      }
    }
    done(state_.nodes.Register(req->node()));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::UnregisterNode(Ctx* ctx,
                                                        const rpc::UnregisterNodeRequest* req,
                                                        rpc::UnregisterNodeReply* reply) {
  return gate_.HandleInLoop(ctx, "UnregisterNode", [this, req, reply](Done done) {
    done(state_.nodes.Unregister(req->node_id(), req->reason()));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::GetAllNodes(Ctx* ctx, const rpc::GetAllNodesRequest* req,
                                                     rpc::GetAllNodesReply* reply) {
  return gate_.HandleInLoop(ctx, "GetAllNodes", [this, req, reply](Done done) {
    for (auto& node : state_.nodes.GetAll()) *reply->add_nodes() = std::move(node);
    done(absl::OkStatus());
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::ReportResources(Ctx* ctx,
                                                         const rpc::ReportResourcesRequest* req,
                                                         rpc::ReportResourcesReply* reply) {
  return gate_.HandleInLoop(ctx, "ReportResources", [this, req, reply](Done done) {
    done(DoReportResources(*req, reply));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::GetClusterResources(
    Ctx* ctx, const rpc::GetClusterResourcesRequest* req, rpc::GetClusterResourcesReply* reply) {
  return gate_.HandleInLoop(ctx, "GetClusterResources", [this, req, reply](Done done) {
    DoGetClusterResources(*req, reply, std::move(done));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::PollNodeChanges(Ctx* ctx,
                                                         const rpc::PollNodeChangesRequest* req,
                                                         rpc::PollNodeChangesReply* reply) {
  return gate_.HandleInLoop(ctx, "PollNodeChanges", [this, req, reply](Done done) {
    DoPollNodeChanges(*req, reply, std::move(done));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::AddJob(Ctx* ctx, const rpc::AddJobRequest* req,
                                                rpc::AddJobReply* reply) {
  return gate_.HandleInLoop(ctx, "AddJob",
                            [this, req, reply](Done done) { done(DoAddJob(*req, reply)); });
}

GcsServiceImpl::Reactor* GcsServiceImpl::MarkJobFinished(Ctx* ctx,
                                                         const rpc::MarkJobFinishedRequest* req,
                                                         rpc::MarkJobFinishedReply* reply) {
  return gate_.HandleInLoop(ctx, "MarkJobFinished", [this, req, reply](Done done) {
    done(DoMarkJobFinished(*req));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::GetAllJobs(Ctx* ctx, const rpc::GetAllJobsRequest* req,
                                                    rpc::GetAllJobsReply* reply) {
  return gate_.HandleInLoop(ctx, "GetAllJobs", [this, req, reply](Done done) {
    for (auto& job : state_.jobs.GetAll()) *reply->add_jobs() = std::move(job);
    done(absl::OkStatus());
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::GetJob(Ctx* ctx, const rpc::GetJobRequest* req,
                                                rpc::GetJobReply* reply) {
  return gate_.HandleInLoop(ctx, "GetJob", [this, req, reply](Done done) {
    const rpc::JobInfo* job = state_.jobs.Find(req->job_id());
    reply->set_found(job != nullptr);
    if (job != nullptr) *reply->mutable_job() = *job;
    done(absl::OkStatus());
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::KvPut(Ctx* ctx, const rpc::KvPutRequest* req,
                                               rpc::KvPutReply* reply) {
  return gate_.HandleInLoop(ctx, "KvPut",
                            [this, req, reply](Done done) { done(DoKvPut(*req, reply)); });
}

GcsServiceImpl::Reactor* GcsServiceImpl::KvGet(Ctx* ctx, const rpc::KvGetRequest* req,
                                               rpc::KvGetReply* reply) {
  return gate_.HandleInLoop(ctx, "KvGet", [this, req, reply](Done done) {
    auto value = state_.kv.Get(req->ns(), req->key());
    reply->set_found(value.has_value());
    if (value) reply->set_value(std::move(*value));
    done(absl::OkStatus());
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::KvDel(Ctx* ctx, const rpc::KvDelRequest* req,
                                               rpc::KvDelReply* reply) {
  return gate_.HandleInLoop(ctx, "KvDel",
                            [this, req, reply](Done done) { done(DoKvDel(*req, reply)); });
}

GcsServiceImpl::Reactor* GcsServiceImpl::KvKeys(Ctx* ctx, const rpc::KvKeysRequest* req,
                                                rpc::KvKeysReply* reply) {
  return gate_.HandleInLoop(ctx, "KvKeys", [this, req, reply](Done done) {
    for (auto& key : state_.kv.Keys(req->ns(), req->prefix())) *reply->add_keys() = std::move(key);
    done(absl::OkStatus());
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::RegisterActor(Ctx* ctx,
                                                       const rpc::RegisterActorRequest* req,
                                                       rpc::RegisterActorReply* reply) {
  return gate_.HandleInLoop(ctx, "RegisterActor", [this, req, reply](Done done) {
    done(state_.actors.Register(req->actor()));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::GetActorInfo(Ctx* ctx,
                                                      const rpc::GetActorInfoRequest* req,
                                                      rpc::GetActorInfoReply* reply) {
  return gate_.HandleInLoop(ctx, "GetActorInfo", [this, req, reply](Done done) {
    DoGetActorInfo(*req, reply, std::move(done));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::KillActor(Ctx* ctx, const rpc::KillActorRequest* req,
                                                   rpc::KillActorReply* reply) {
  return gate_.HandleInLoop(ctx, "KillActor", [this, req, reply](Done done) {
    done(state_.actors.Kill(req->actor_id(), req->no_restart(), req->cause()));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::ListActors(Ctx* ctx, const rpc::ListActorsRequest* req,
                                                    rpc::ListActorsReply* reply) {
  return gate_.HandleInLoop(ctx, "ListActors", [this, req, reply](Done done) {
    for (auto& actor : state_.actors.List()) *reply->add_actors() = std::move(actor);
    done(absl::OkStatus());
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::ReportWorkerFailure(
    Ctx* ctx, const rpc::ReportWorkerFailureRequest* req, rpc::ReportWorkerFailureReply* reply) {
  return gate_.HandleInLoop(ctx, "ReportWorkerFailure", [this, req, reply](Done done) {
    done(state_.actors.OnWorkerFailure(*req));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::CreatePlacementGroup(
    Ctx* ctx, const rpc::CreatePlacementGroupRequest* req, rpc::CreatePlacementGroupReply* reply) {
  return gate_.HandleInLoop(ctx, "CreatePlacementGroup", [this, req, reply](Done done) {
    done(state_.placement_groups.Create(req->group()));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::RemovePlacementGroup(
    Ctx* ctx, const rpc::RemovePlacementGroupRequest* req, rpc::RemovePlacementGroupReply* reply) {
  return gate_.HandleInLoop(ctx, "RemovePlacementGroup", [this, req, reply](Done done) {
    done(state_.placement_groups.Remove(req->placement_group_id()));
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::GetPlacementGroup(Ctx* ctx,
                                                           const rpc::GetPlacementGroupRequest* req,
                                                           rpc::GetPlacementGroupReply* reply) {
  return gate_.HandleInLoop(ctx, "GetPlacementGroup", [this, req, reply](Done done) {
    const rpc::PlacementGroupInfo* group =
        req->placement_group_id().empty()
            ? state_.placement_groups.FindByName(req->ray_namespace(), req->name())
            : state_.placement_groups.Find(req->placement_group_id());
    reply->set_found(group != nullptr);
    if (group != nullptr) *reply->mutable_group() = *group;
    done(absl::OkStatus());
  });
}

GcsServiceImpl::Reactor* GcsServiceImpl::ListPlacementGroups(
    Ctx* ctx, const rpc::ListPlacementGroupsRequest* req, rpc::ListPlacementGroupsReply* reply) {
  return gate_.HandleInLoop(ctx, "ListPlacementGroups", [this, req, reply](Done done) {
    for (auto& group : state_.placement_groups.List()) *reply->add_groups() = std::move(group);
    done(absl::OkStatus());
  });
}

absl::Status GcsServiceImpl::DoReportResources(const rpc::ReportResourcesRequest& req,
                                               rpc::ReportResourcesReply* reply) {
  // Only alive nodes have a view; anything else must register (again).
  reply->set_unknown_node(!state_.resources.Report(req.view()));
  return absl::OkStatus();
}

void GcsServiceImpl::DoPollNodeChanges(const rpc::PollNodeChangesRequest& req,
                                       rpc::PollNodeChangesReply* reply, Done done) {
  int64_t timeout_ms = std::clamp<int64_t>(req.timeout_ms(), 0, kMaxPollMs);
  int64_t now = state_.clock.MonotonicMs();
  bool waiting =
      state_.publisher.Poll(req.after_seq(), now + timeout_ms, now,
                            [reply, done = std::move(done)](rpc::PollNodeChangesReply changes) {
                              *reply = std::move(changes);
                              done(absl::OkStatus());
                            });
  if (!waiting) return;
  loop_.RunAfter(std::chrono::milliseconds(timeout_ms),
                 [this] { state_.publisher.ExpireWaiters(state_.clock.MonotonicMs()); });
}

void GcsServiceImpl::DoGetClusterResources(const rpc::GetClusterResourcesRequest& req,
                                           rpc::GetClusterResourcesReply* reply, Done done) {
  int64_t timeout_ms = std::clamp<int64_t>(req.timeout_ms(), 0, kMaxPollMs);
  int64_t now = state_.clock.MonotonicMs();
  bool waiting = state_.resources.Poll(
      req.after_version(), req.epoch(), now + timeout_ms, now,
      [reply, done = std::move(done)](rpc::GetClusterResourcesReply delta) {
        *reply = std::move(delta);
        done(absl::OkStatus());
      });
  if (!waiting) return;
  loop_.RunAfter(std::chrono::milliseconds(timeout_ms),
                 [this] { state_.resources.ExpireWaiters(state_.clock.MonotonicMs()); });
}

absl::Status GcsServiceImpl::DoMarkJobFinished(const rpc::MarkJobFinishedRequest& req) {
  absl::Status status = state_.jobs.MarkFinished(req.job_id());
  if (status.ok()) state_.actors.OnJobFinished(req.job_id());
  return status;
}

void GcsServiceImpl::DoGetActorInfo(const rpc::GetActorInfoRequest& req,
                                    rpc::GetActorInfoReply* reply, Done done) {
  auto waiter = state_.actors.GetInfo(req, [reply, done](const rpc::ActorInfo* info) {
    reply->set_found(info != nullptr);
    if (info != nullptr) *reply->mutable_actor() = *info;
    done(absl::OkStatus());
  });
  if (!waiter.ok()) {
    done(waiter.status());
    return;
  }
  if (*waiter == 0) return;  // Answered.
  int64_t timeout_ms = std::clamp<int64_t>(req.timeout_ms(), 0, kMaxPollMs);
  loop_.RunAfter(std::chrono::milliseconds(timeout_ms),
                 [this, id = *waiter] { state_.actors.ExpirePoll(id); });
}

absl::Status GcsServiceImpl::DoAddJob(const rpc::AddJobRequest& req, rpc::AddJobReply* reply) {
  auto id = state_.jobs.AddJob(req.job(), req.request_id());
  if (!id.ok()) return id.status();
  reply->set_job_id(id->Binary());
  return absl::OkStatus();
}

absl::Status GcsServiceImpl::DoKvPut(const rpc::KvPutRequest& req, rpc::KvPutReply* reply) {
  auto added = state_.kv.Put(req.ns(), req.key(), req.value(), req.overwrite());
  if (!added.ok()) return added.status();
  reply->set_added(*added);
  return absl::OkStatus();
}

absl::Status GcsServiceImpl::DoKvDel(const rpc::KvDelRequest& req, rpc::KvDelReply* reply) {
  auto deleted = state_.kv.Del(req.ns(), req.key());
  if (!deleted.ok()) return deleted.status();
  reply->set_deleted(*deleted);
  return absl::OkStatus();
}

}  // namespace lumen::gcs
