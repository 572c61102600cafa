// raylet/raylet_service.h
//
// RayletServiceImpl is the gRPC face of the raylet: each RayletService
// method checks the token and posts into the raylet loop (CallGate), where
// it calls the NodeManager. HealthCheck is a bare loop post, so it answers
// as long as the loop turns. RequestWorkerLease refuses a resource shape
// that breaks the rules of common/resources.h with INVALID_ARGUMENT before
// the NodeManager sees it. Conversion between absl::Status and
// grpc::Status happens in CallGate.
// Threading: gRPC threads only hand work to the loop. The NodeManager is
// not owned and must outlive the server the service is registered on.
#pragma once

#include "common/rpc/server.h"
#include "proto/raylet.grpc.pb.h"
#include <atomic>

#include "raylet/node_manager.h"
#include "raylet/object_freer.h"
#include "raylet/object_transfer.h"
#include "raylet/raylet_metrics.h"

namespace lumen::raylet {

class RayletServiceImpl : public rpc::RayletService::CallbackService {
 public:
  RayletServiceImpl(rpc::CallGate& gate, NodeManager& node_manager)
      : gate_(gate), node_manager_(node_manager) {}

  grpc::ServerUnaryReactor* RequestWorkerLease(grpc::CallbackServerContext* ctx,
                                               const rpc::RequestWorkerLeaseRequest* request,
                                               rpc::RequestWorkerLeaseReply* reply) override;
  grpc::ServerUnaryReactor* ReturnWorker(grpc::CallbackServerContext* ctx,
                                         const rpc::ReturnWorkerRequest* request,
                                         rpc::ReturnWorkerReply* reply) override;
  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* ctx,
                                           const rpc::RegisterWorkerRequest* request,
                                           rpc::RegisterWorkerReply* reply) override;
  grpc::ServerUnaryReactor* DisconnectWorker(grpc::CallbackServerContext* ctx,
                                             const rpc::DisconnectWorkerRequest* request,
                                             rpc::DisconnectWorkerReply* reply) override;
  grpc::ServerUnaryReactor* NotifyBlocked(grpc::CallbackServerContext* ctx,
                                          const rpc::NotifyBlockedRequest* request,
                                          rpc::NotifyBlockedReply* reply) override;
  grpc::ServerUnaryReactor* HealthCheck(grpc::CallbackServerContext* ctx,
                                        const rpc::HealthCheckRequest* request,
                                        rpc::HealthCheckReply* reply) override;
  grpc::ServerUnaryReactor* GetNodeStats(grpc::CallbackServerContext* ctx,
                                         const rpc::GetNodeStatsRequest* request,
                                         rpc::GetNodeStatsReply* reply) override;
  // Merged on the gRPC thread (the sink locks); UNIMPLEMENTED without a sink.
  grpc::ServerUnaryReactor* ReportMetrics(grpc::CallbackServerContext* ctx,
                                          const rpc::ReportMetricsRequest* request,
                                          rpc::ReportMetricsReply* reply) override;

  // Object transfer (raylet/object_transfer.h): PullObject on the loop;
  // ReadObjectChunk on the gRPC thread (it may wait for a restore).
  // UNAVAILABLE until set.
  grpc::ServerUnaryReactor* PullObject(grpc::CallbackServerContext* ctx,
                                       const rpc::PullObjectRequest* request,
                                       rpc::PullObjectReply* reply) override;
  grpc::ServerUnaryReactor* ReadObjectChunk(grpc::CallbackServerContext* ctx,
                                            const rpc::ReadObjectChunkRequest* request,
                                            rpc::ReadObjectChunkReply* reply) override;
  // An owner's free of its objects' copies (raylet/object_freer.h), on
  // the loop. OK without a freer (no store here: nothing to delete).
  grpc::ServerUnaryReactor* FreeObjects(grpc::CallbackServerContext* ctx,
                                        const rpc::FreeObjectsRequest* request,
                                        rpc::FreeObjectsReply* reply) override;

  // Placement group bundles (raylet/bundle_book.h), on the loop.
  grpc::ServerUnaryReactor* PrepareBundleResources(grpc::CallbackServerContext* ctx,
                                                   const rpc::BundleRequest* request,
                                                   rpc::PrepareBundleReply* reply) override;
  grpc::ServerUnaryReactor* CommitBundleResources(grpc::CallbackServerContext* ctx,
                                                  const rpc::BundleRequest* request,
                                                  rpc::CommitBundleReply* reply) override;
  grpc::ServerUnaryReactor* CancelResourceReserve(grpc::CallbackServerContext* ctx,
                                                  const rpc::BundleRequest* request,
                                                  rpc::CancelBundleReply* reply) override;

  // Not owned; must outlive the server. Set before it starts.
  void set_metrics_sink(WorkerMetricsSink* sink) { metrics_sink_ = sink; }
  // Not owned; must outlive the server. The puller is set on the loop.
  void set_object_transfer(ObjectSender* sender, ObjectPuller* puller) {
    sender_ = sender;
    puller_ = puller;
  }
  void set_object_freer(ObjectFreer* freer) { freer_ = freer; }  // On the loop, like the puller.

 private:
  rpc::CallGate& gate_;
  NodeManager& node_manager_;
  WorkerMetricsSink* metrics_sink_ = nullptr;
  std::atomic<ObjectSender*> sender_{nullptr};
  ObjectPuller* puller_ = nullptr;  // Loop only.
  ObjectFreer* freer_ = nullptr;    // Loop only.
};

}  // namespace lumen::raylet
