#include "gcs/task_event_service.h"

#include "google/protobuf/arena.h"

namespace lumen::gcs {
namespace {

class ArenaHolder
    : public grpc::MessageHolder<rpc::AddTaskEventDataRequest, rpc::AddTaskEventDataReply> {
 public:
  ArenaHolder() {
    set_request(google::protobuf::Arena::CreateMessage<rpc::AddTaskEventDataRequest>(&arena_));
    set_response(google::protobuf::Arena::CreateMessage<rpc::AddTaskEventDataReply>(&arena_));
  }
  void Release() override { delete this; }

 private:
  google::protobuf::Arena arena_;
};

}  // namespace

grpc::MessageHolder<rpc::AddTaskEventDataRequest, rpc::AddTaskEventDataReply>*
ArenaEventAllocator::AllocateMessages() {
  return new ArenaHolder();
}

grpc::ServerUnaryReactor* TaskEventServiceImpl::AddTaskEventData(
    grpc::CallbackServerContext* ctx, const rpc::AddTaskEventDataRequest* req,
    rpc::AddTaskEventDataReply*) {
  return gate_.HandleInLoop(ctx, "AddTaskEventData", [this, req](rpc::Done done) {
    // The request is this call's own (ArenaHolder): its records move into
    // the store rather than being copied.
    done(store_.Add(*const_cast<rpc::AddTaskEventDataRequest*>(req)));
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
