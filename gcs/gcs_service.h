// gcs/gcs_service.h
//
// GcsServiceImpl is the gRPC face of GcsState: each method checks the token
// and posts itself into the GCS loop through CallGate, where it reads or
// changes GcsState and answers. PollNodeChanges and GetActorInfo (with
// after_version) may answer later (long polls, capped at kMaxPollMs).
// Threading: methods are called by gRPC threads and only post; the work
// runs on the loop. Failure: errors of the managers (bad ids, unknown
// nodes or jobs, store failures) are returned as the call's status.
#pragma once

#include "common/event_loop.h"
#include "common/rpc/server.h"
#include "gcs/gcs_state.h"
#include "proto/gcs.grpc.pb.h"

namespace lumen::gcs {

inline constexpr int64_t kMaxPollMs = 60'000;

class GcsServiceImpl : public rpc::GcsService::CallbackService {
 public:
  // Nothing is owned; all must outlive the service (and the gRPC server).
  GcsServiceImpl(rpc::CallGate& gate, GcsState& state, EventLoop& loop)
      : gate_(gate), state_(state), loop_(loop) {}

  using Reactor = grpc::ServerUnaryReactor;
  using Ctx = grpc::CallbackServerContext;

  Reactor* RegisterNode(Ctx* ctx, const rpc::RegisterNodeRequest* req,
                        rpc::RegisterNodeReply* reply) override;
  Reactor* UnregisterNode(Ctx* ctx, const rpc::UnregisterNodeRequest* req,
                          rpc::UnregisterNodeReply* reply) override;
  Reactor* GetAllNodes(Ctx* ctx, const rpc::GetAllNodesRequest* req,
                       rpc::GetAllNodesReply* reply) override;
  Reactor* ReportResources(Ctx* ctx, const rpc::ReportResourcesRequest* req,
                           rpc::ReportResourcesReply* reply) override;
  Reactor* GetClusterResources(Ctx* ctx, const rpc::GetClusterResourcesRequest* req,
                               rpc::GetClusterResourcesReply* reply) override;
  Reactor* PollNodeChanges(Ctx* ctx, const rpc::PollNodeChangesRequest* req,
                           rpc::PollNodeChangesReply* reply) override;
  Reactor* AddJob(Ctx* ctx, const rpc::AddJobRequest* req, rpc::AddJobReply* reply) override;
  Reactor* MarkJobFinished(Ctx* ctx, const rpc::MarkJobFinishedRequest* req,
                           rpc::MarkJobFinishedReply* reply) override;
  Reactor* GetAllJobs(Ctx* ctx, const rpc::GetAllJobsRequest* req,
                      rpc::GetAllJobsReply* reply) override;
  Reactor* GetJob(Ctx* ctx, const rpc::GetJobRequest* req, rpc::GetJobReply* reply) override;
  Reactor* KvPut(Ctx* ctx, const rpc::KvPutRequest* req, rpc::KvPutReply* reply) override;
  Reactor* KvGet(Ctx* ctx, const rpc::KvGetRequest* req, rpc::KvGetReply* reply) override;
  Reactor* KvDel(Ctx* ctx, const rpc::KvDelRequest* req, rpc::KvDelReply* reply) override;
  Reactor* KvKeys(Ctx* ctx, const rpc::KvKeysRequest* req, rpc::KvKeysReply* reply) override;
  Reactor* RegisterActor(Ctx* ctx, const rpc::RegisterActorRequest* req,
                         rpc::RegisterActorReply* reply) override;
  Reactor* GetActorInfo(Ctx* ctx, const rpc::GetActorInfoRequest* req,
                        rpc::GetActorInfoReply* reply) override;
  Reactor* KillActor(Ctx* ctx, const rpc::KillActorRequest* req,
                     rpc::KillActorReply* reply) override;
  Reactor* ListActors(Ctx* ctx, const rpc::ListActorsRequest* req,
                      rpc::ListActorsReply* reply) override;
  Reactor* ReportWorkerFailure(Ctx* ctx, const rpc::ReportWorkerFailureRequest* req,
                               rpc::ReportWorkerFailureReply* reply) override;
  Reactor* CreatePlacementGroup(Ctx* ctx, const rpc::CreatePlacementGroupRequest* req,
                                rpc::CreatePlacementGroupReply* reply) override;
  Reactor* RemovePlacementGroup(Ctx* ctx, const rpc::RemovePlacementGroupRequest* req,
                                rpc::RemovePlacementGroupReply* reply) override;
  Reactor* GetPlacementGroup(Ctx* ctx, const rpc::GetPlacementGroupRequest* req,
                             rpc::GetPlacementGroupReply* reply) override;
  Reactor* ListPlacementGroups(Ctx* ctx, const rpc::ListPlacementGroupsRequest* req,
                               rpc::ListPlacementGroupsReply* reply) override;

 private:
  // Loop-side bodies of the methods that need more than one line.
  absl::Status DoReportResources(const rpc::ReportResourcesRequest& req,
                                 rpc::ReportResourcesReply* reply);
  void DoGetClusterResources(const rpc::GetClusterResourcesRequest& req,
                             rpc::GetClusterResourcesReply* reply, rpc::Done done);
  void DoPollNodeChanges(const rpc::PollNodeChangesRequest& req, rpc::PollNodeChangesReply* reply,
                         rpc::Done done);
  absl::Status DoAddJob(const rpc::AddJobRequest& req, rpc::AddJobReply* reply);
  absl::Status DoKvPut(const rpc::KvPutRequest& req, rpc::KvPutReply* reply);
  absl::Status DoKvDel(const rpc::KvDelRequest& req, rpc::KvDelReply* reply);
  absl::Status DoMarkJobFinished(const rpc::MarkJobFinishedRequest& req);
  void DoGetActorInfo(const rpc::GetActorInfoRequest& req, rpc::GetActorInfoReply* reply,
                      rpc::Done done);

  rpc::CallGate& gate_;
  GcsState& state_;
  EventLoop& loop_;
};

}  // namespace lumen::gcs
