#include "gcs/task_event_service.h"

namespace lumen::gcs {

grpc::ServerUnaryReactor* TaskEventServiceImpl::AddTaskEventData(
    grpc::CallbackServerContext* ctx, const rpc::AddTaskEventDataRequest* req,
    rpc::AddTaskEventDataReply*) {
  return gate_.HandleInLoop(ctx, "AddTaskEventData", [this, req](rpc::Done done) {
    store_.Add(*req);
    done(absl::OkStatus());
  });
}

grpc::ServerUnaryReactor* TaskEventServiceImpl::GetTaskEvents(grpc::CallbackServerContext* ctx,
                                                              const rpc::GetTaskEventsRequest* req,
                                                              rpc::GetTaskEventsReply* reply) {
  return gate_.HandleInLoop(ctx, "GetTaskEvents", [this, req, reply](rpc::Done done) {
    *reply = store_.Get(*req);
    done(absl::OkStatus());
  });
}

}  // namespace lumen::gcs
