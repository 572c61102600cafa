#include "raylet/raylet_service.h"

#include "absl/strings/escaping.h"
#include "common/resources.h"

namespace lumen::raylet {

using rpc::Done;

grpc::ServerUnaryReactor* RayletServiceImpl::RequestWorkerLease(
    grpc::CallbackServerContext* ctx, const rpc::RequestWorkerLeaseRequest* request,
    rpc::RequestWorkerLeaseReply* reply) {
  return gate_.HandleInLoop(ctx, "RequestWorkerLease", [=, this](Done done) {
    // A client that skipped the API's check gets the same refusal.
    if (absl::Status bad = ValidateResources(request->resources()); !bad.ok()) {
      const std::string& fn = request->function_name();
      done(absl::InvalidArgumentError("invalid resource request" + (fn.empty() ? "" : " of " + fn) +
                                      ": " + std::string(bad.message())));
      return;
    }
    // `ctx` stays valid until `done` finishes the call.
    node_manager_.RequestWorkerLease(
        *request, [ctx] { return ctx->IsCancelled(); },
        [reply, done](const rpc::RequestWorkerLeaseReply& result) {
          *reply = result;
          done(absl::OkStatus());
        });
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::ReturnWorker(grpc::CallbackServerContext* ctx,
                                                          const rpc::ReturnWorkerRequest* request,
                                                          rpc::ReturnWorkerReply*) {
  return gate_.HandleInLoop(ctx, "ReturnWorker", [=, this](Done done) {
    node_manager_.ReturnWorker(*request);
    done(absl::OkStatus());
  });
}

namespace {
absl::Status ValidateBundle(const rpc::BundleRequest& request) {
  if (request.placement_group_id().empty() || request.bundle_index() < 0) {
    return absl::InvalidArgumentError("a bundle needs a placement group id and an index >= 0");
  }
  return absl::OkStatus();
}
}  // namespace

grpc::ServerUnaryReactor* RayletServiceImpl::PrepareBundleResources(
    grpc::CallbackServerContext* ctx, const rpc::BundleRequest* request,
    rpc::PrepareBundleReply* reply) {
  return gate_.HandleInLoop(ctx, "PrepareBundleResources", [=, this](Done done) {
    absl::Status st = ValidateBundle(*request);
    if (st.ok()) st = ValidateResources(request->resources());
    if (st.ok()) {
      reply->set_success(node_manager_.bundles().Prepare(
          absl::BytesToHexString(request->placement_group_id()), request->bundle_index(),
          ResourceSet::FromMap(request->resources())));
    }
    done(st);
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::CommitBundleResources(
    grpc::CallbackServerContext* ctx, const rpc::BundleRequest* request, rpc::CommitBundleReply*) {
  return gate_.HandleInLoop(ctx, "CommitBundleResources", [=, this](Done done) {
    absl::Status st = ValidateBundle(*request);
    if (st.ok()) {
      st = node_manager_.bundles().Commit(absl::BytesToHexString(request->placement_group_id()),
                                          request->bundle_index());
    }
    done(st);
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::CancelResourceReserve(
    grpc::CallbackServerContext* ctx, const rpc::BundleRequest* request, rpc::CancelBundleReply*) {
  return gate_.HandleInLoop(ctx, "CancelResourceReserve", [=, this](Done done) {
    absl::Status st = ValidateBundle(*request);
    if (st.ok()) {
      node_manager_.bundles().Cancel(absl::BytesToHexString(request->placement_group_id()),
                                     request->bundle_index());
    }
    done(st);
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::RegisterWorker(
    grpc::CallbackServerContext* ctx, const rpc::RegisterWorkerRequest* request,
    rpc::RegisterWorkerReply* reply) {
  return gate_.HandleInLoop(ctx, "RegisterWorker", [=, this](Done done) {
    done(node_manager_.RegisterWorker(*request, reply));
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::DisconnectWorker(
    grpc::CallbackServerContext* ctx, const rpc::DisconnectWorkerRequest* request,
    rpc::DisconnectWorkerReply*) {
  return gate_.HandleInLoop(ctx, "DisconnectWorker", [=, this](Done done) {
    node_manager_.DisconnectWorker(WorkerId::FromBinaryOrNil(request->worker_id()));
    done(absl::OkStatus());
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::NotifyBlocked(grpc::CallbackServerContext* ctx,
                                                           const rpc::NotifyBlockedRequest* request,
                                                           rpc::NotifyBlockedReply*) {
  return gate_.HandleInLoop(ctx, "NotifyBlocked", [=, this](Done done) {
    node_manager_.NotifyBlocked(WorkerId::FromBinaryOrNil(request->worker_id()),
                                request->blocked());
    done(absl::OkStatus());
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::HealthCheck(grpc::CallbackServerContext* ctx,
                                                         const rpc::HealthCheckRequest*,
                                                         rpc::HealthCheckReply*) {
  return gate_.HandleInLoop(ctx, "HealthCheck", [](Done done) { done(absl::OkStatus()); });
}

grpc::ServerUnaryReactor* RayletServiceImpl::GetNodeStats(grpc::CallbackServerContext* ctx,
                                                          const rpc::GetNodeStatsRequest*,
                                                          rpc::GetNodeStatsReply* reply) {
  return gate_.HandleInLoop(ctx, "GetNodeStats", [=, this](Done done) {
    node_manager_.GetNodeStats(reply);
    if (puller_) puller_->FillStats(reply);
    done(absl::OkStatus());
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::ReportMetrics(grpc::CallbackServerContext* ctx,
                                                           const rpc::ReportMetricsRequest* request,
                                                           rpc::ReportMetricsReply* reply) {
  return gate_.HandleInline(ctx, "ReportMetrics", [=, this](Done done) {
    if (!metrics_sink_) {
      done(absl::UnimplementedError("this raylet exports no metrics (--metrics-export-port)"));
      return;
    }
    *reply = metrics_sink_->Merge(*request);
    done(absl::OkStatus());
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::PullObject(grpc::CallbackServerContext* ctx,
                                                        const rpc::PullObjectRequest* request,
                                                        rpc::PullObjectReply*) {
  return gate_.HandleInLoop(ctx, "PullObject", [=, this](Done done) {
    if (!puller_) {
      done(absl::UnavailableError("this raylet has no object store to pull into"));
      return;
    }
    puller_->Pull(*request, [done](const absl::Status& status) { done(status); });
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::FreeObjects(grpc::CallbackServerContext* ctx,
                                                         const rpc::FreeObjectsRequest* request,
                                                         rpc::FreeObjectsReply*) {
  return gate_.HandleInLoop(ctx, "FreeObjects", [=, this](Done done) {
    done(freer_ ? freer_->Free(*request) : absl::OkStatus());
  });
}

grpc::ServerUnaryReactor* RayletServiceImpl::ReadObjectChunk(grpc::CallbackServerContext* ctx,
                                                             const rpc::ReadObjectChunkRequest* request,
                                                             rpc::ReadObjectChunkReply* reply) {
  return gate_.HandleInline(ctx, "ReadObjectChunk", [=, this](Done done) {
    ObjectSender* sender = sender_.load();
    done(sender ? sender->Read(*request, reply)
                : absl::UnavailableError("this raylet has no object store to read from"));
  });
}

}  // namespace lumen::raylet
