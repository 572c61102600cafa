// gcs/task_event_service.h
//
// TaskEventServiceImpl is the gRPC face of TaskEventStore
// (gcs/task_event_store.h), served by lumen-gcs beside GcsService:
// AddTaskEventData from workers and drivers, GetTaskEvents for the state
// CLI. Threading: gRPC threads only post; the store is read and changed on
// the GCS loop through CallGate. Failure: none of its own (a bad request is
// stored as far as it makes sense).
#pragma once

#include <grpcpp/support/message_allocator.h>

#include "common/rpc/server.h"
#include "gcs/task_event_store.h"
#include "proto/task_events.grpc.pb.h"

namespace lumen::gcs {

// AddTaskEventData requests are parsed onto an arena (a few blocks, not a
// malloc per event and id), freed with the call.
class ArenaEventAllocator
    : public grpc::MessageAllocator<rpc::AddTaskEventDataRequest, rpc::AddTaskEventDataReply> {
 public:
  grpc::MessageHolder<rpc::AddTaskEventDataRequest, rpc::AddTaskEventDataReply>* AllocateMessages() override;
};

class TaskEventServiceImpl : public rpc::TaskEventService::CallbackService {
 public:
  // Nothing is owned; both must outlive the service (and the gRPC server).
  TaskEventServiceImpl(rpc::CallGate& gate, TaskEventStore& store) : gate_(gate), store_(store) {
    SetMessageAllocatorFor_AddTaskEventData(&allocator_);
  }

  grpc::ServerUnaryReactor* AddTaskEventData(grpc::CallbackServerContext* ctx,
                                             const rpc::AddTaskEventDataRequest* req,
                                             rpc::AddTaskEventDataReply* reply) override;
  grpc::ServerUnaryReactor* GetTaskEvents(grpc::CallbackServerContext* ctx,
                                          const rpc::GetTaskEventsRequest* req,
                                          rpc::GetTaskEventsReply* reply) override;

 private:
  rpc::CallGate& gate_;
  TaskEventStore& store_;
  ArenaEventAllocator allocator_;
};

}  // namespace lumen::gcs
