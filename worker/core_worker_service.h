// worker/core_worker_service.h
//
// The gRPC face of a CoreWorker. Every method runs on the gRPC thread and
// only hands work over: PushTasks to the TaskExecutor's queue, the others to
// thread-safe CoreWorker handlers.
#pragma once

#include "common/rpc/server.h"
#include "proto/worker.grpc.pb.h"

namespace lumen::worker {

class CoreWorker;

class CoreWorkerService : public rpc::CoreWorkerService::CallbackService {
 public:
  CoreWorkerService(CoreWorker& worker, rpc::CallGate& gate) : worker_(worker), gate_(gate) {}

  grpc::ServerUnaryReactor* PushTasks(grpc::CallbackServerContext* ctx,
                                      const rpc::PushTasksRequest* request,
                                      rpc::PushTasksReply* reply) override;
  grpc::ServerUnaryReactor* GetTaskPort(grpc::CallbackServerContext* ctx,
                                        const rpc::GetTaskPortRequest* request,
                                        rpc::GetTaskPortReply* reply) override;
  grpc::ServerUnaryReactor* GetObjectStatus(grpc::CallbackServerContext* ctx,
                                            const rpc::GetObjectStatusRequest* request,
                                            rpc::GetObjectStatusReply* reply) override;
  grpc::ServerUnaryReactor* PushLogs(grpc::CallbackServerContext* ctx,
                                     const rpc::PushLogsRequest* request,
                                     rpc::PushLogsReply* reply) override;
  grpc::ServerUnaryReactor* Exit(grpc::CallbackServerContext* ctx, const rpc::ExitRequest* request,
                                 rpc::ExitReply* reply) override;
  // A long poll, answered when this process stops holding the object.
  grpc::ServerUnaryReactor* WaitForRefRemoved(grpc::CallbackServerContext* ctx,
                                              const rpc::WaitForRefRemovedRequest* request,
                                              rpc::WaitForRefRemovedReply* reply) override;
  grpc::ServerUnaryReactor* GetReferences(grpc::CallbackServerContext* ctx,
                                          const rpc::GetReferencesRequest* request,
                                          rpc::GetReferencesReply* reply) override;
  // A node gained a copy of an object this process owns.
  grpc::ServerUnaryReactor* AddObjectLocation(grpc::CallbackServerContext* ctx,
                                              const rpc::AddObjectLocationRequest* request,
                                              rpc::AddObjectLocationReply* reply) override;

 private:
  CoreWorker& worker_;
  rpc::CallGate& gate_;
};

}  // namespace lumen::worker
