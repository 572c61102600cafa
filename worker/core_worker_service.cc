#include "worker/core_worker_service.h"

#include "worker/core_worker.h"

namespace lumen::worker {

grpc::ServerUnaryReactor* CoreWorkerService::PushTasks(grpc::CallbackServerContext* ctx,
                                                       const rpc::PushTasksRequest* request,
                                                       rpc::PushTasksReply* reply) {
  return gate_.HandleInline(ctx, "PushTasks", [this, request, reply](rpc::Done done) {
    TaskExecutor* executor = worker_.executor();
    if (!executor) {
      done(absl::FailedPreconditionError("this process is a driver and runs no tasks"));
      return;
    }
    executor->EnqueueBatch(request, reply, std::move(done));
  });
}

grpc::ServerUnaryReactor* CoreWorkerService::GetTaskPort(grpc::CallbackServerContext* ctx,
                                                         const rpc::GetTaskPortRequest*,
                                                         rpc::GetTaskPortReply* reply) {
  return gate_.HandleInline(ctx, "GetTaskPort", [this, reply](rpc::Done done) {
    reply->set_port(worker_.task_port());
    done(absl::OkStatus());
  });
}

grpc::ServerUnaryReactor* CoreWorkerService::GetObjectStatus(
    grpc::CallbackServerContext* ctx, const rpc::GetObjectStatusRequest* request,
    rpc::GetObjectStatusReply* reply) {
  return gate_.HandleInline(ctx, "GetObjectStatus", [this, request, reply](rpc::Done done) {
    worker_.HandleGetObjectStatus(*request, reply, std::move(done));
  });
}

grpc::ServerUnaryReactor* CoreWorkerService::PushLogs(grpc::CallbackServerContext* ctx,
                                                      const rpc::PushLogsRequest* request,
                                                      rpc::PushLogsReply*) {
  return gate_.HandleInline(ctx, "PushLogs", [this, request](rpc::Done done) {
    worker_.HandlePushLogs(*request);
    done(absl::OkStatus());
  });
}

grpc::ServerUnaryReactor* CoreWorkerService::Exit(grpc::CallbackServerContext* ctx,
                                                  const rpc::ExitRequest*, rpc::ExitReply* reply) {
  return gate_.HandleInline(ctx, "Exit", [this, reply](rpc::Done done) {
    reply->set_accepted(true);
    done(absl::OkStatus());
    worker_.RequestExit();
  });
}

grpc::ServerUnaryReactor* CoreWorkerService::WaitForRefRemoved(
    grpc::CallbackServerContext* ctx, const rpc::WaitForRefRemovedRequest* request,
    rpc::WaitForRefRemovedReply*) {
  return gate_.HandleInline(ctx, "WaitForRefRemoved", [this, request](rpc::Done done) {
    worker_.HandleWaitForRefRemoved(*request, std::move(done));
  });
}

grpc::ServerUnaryReactor* CoreWorkerService::GetReferences(grpc::CallbackServerContext* ctx,
                                                           const rpc::GetReferencesRequest*,
                                                           rpc::GetReferencesReply* reply) {
  return gate_.HandleInline(ctx, "GetReferences", [this, reply](rpc::Done done) {
    worker_.HandleGetReferences(reply);
    done(absl::OkStatus());
  });
}

grpc::ServerUnaryReactor* CoreWorkerService::AddObjectLocation(grpc::CallbackServerContext* ctx,
                                                               const rpc::AddObjectLocationRequest* request,
                                                               rpc::AddObjectLocationReply*) {
  return gate_.HandleInline(ctx, "AddObjectLocation", [this, request](rpc::Done done) {
    worker_.HandleAddObjectLocation(*request);
    done(absl::OkStatus());
  });
}

}  // namespace lumen::worker
