#include "raylet/gcs_client.h"

namespace lumen::raylet {

void GrpcGcsClient::RegisterNode(const rpc::RegisterNodeRequest& request, int64_t timeout_ms,
                                 StatusCallback done) {
  client_.Call(
      &rpc::GcsService::Stub::async::RegisterNode, request,
      std::function<void(absl::Status, rpc::RegisterNodeReply &&)>(
          [done = std::move(done)](absl::Status st, rpc::RegisterNodeReply&&) { done(st); }),
      timeout_ms);
}

void GrpcGcsClient::ReportResources(const rpc::ResourceView& view, int64_t timeout_ms,
                                    ReportCallback done) {
  rpc::ReportResourcesRequest request;
  *request.mutable_view() = view;
  client_.Call(&rpc::GcsService::Stub::async::ReportResources, request,
               std::function<void(absl::Status, rpc::ReportResourcesReply &&)>(
                   [done = std::move(done)](absl::Status st, rpc::ReportResourcesReply&& reply) {
                     done(st, st.ok() && reply.unknown_node());
                   }),
               timeout_ms);
}

void GrpcGcsClient::MarkJobFinished(const JobId& job, int64_t timeout_ms, StatusCallback done) {
  rpc::MarkJobFinishedRequest request;
  request.set_job_id(job.Binary());
  client_.Call(
      &rpc::GcsService::Stub::async::MarkJobFinished, request,
      std::function<void(absl::Status, rpc::MarkJobFinishedReply &&)>(
          [done = std::move(done)](absl::Status st, rpc::MarkJobFinishedReply&&) { done(st); }),
      timeout_ms);
}

void GrpcGcsClient::ReportWorkerFailure(const rpc::ReportWorkerFailureRequest& request,
                                        int64_t timeout_ms, StatusCallback done) {
  client_.Call(
      &rpc::GcsService::Stub::async::ReportWorkerFailure, request,
      std::function<void(absl::Status, rpc::ReportWorkerFailureReply &&)>(
          [done = std::move(done)](absl::Status st, rpc::ReportWorkerFailureReply&&) { done(st); }),
      timeout_ms);
}

void GrpcGcsClient::GetClusterResources(const rpc::GetClusterResourcesRequest& request,
                                        int64_t timeout_ms, ClusterCallback done) {
  client_.Call(&rpc::GcsService::Stub::async::GetClusterResources, request,
               std::function<void(absl::Status, rpc::GetClusterResourcesReply &&)>(
                   [done = std::move(done)](absl::Status st, rpc::GetClusterResourcesReply&& reply) {
                     done(st, std::move(reply));
                   }),
               timeout_ms);
}

void GrpcGcsClient::GetAllNodes(int64_t timeout_ms, NodesCallback done) {
  client_.Call(&rpc::GcsService::Stub::async::GetAllNodes, rpc::GetAllNodesRequest(),
               std::function<void(absl::Status, rpc::GetAllNodesReply &&)>(
                   [done = std::move(done)](absl::Status st, rpc::GetAllNodesReply&& reply) {
                     done(st, {reply.nodes().begin(), reply.nodes().end()});
                   }),
               timeout_ms);
}

void GrpcGcsClient::GetJob(const JobId& job, int64_t timeout_ms, JobCallback done) {
  rpc::GetJobRequest request;
  request.set_job_id(job.Binary());
  client_.Call(&rpc::GcsService::Stub::async::GetJob, request,
               std::function<void(absl::Status, rpc::GetJobReply &&)>(
                   [done = std::move(done), job](absl::Status st, rpc::GetJobReply&& reply) {
                     if (st.ok() && !reply.found()) {
                       st = absl::NotFoundError("the GCS does not know job " + job.Hex());
                     }
                     done(st, std::move(*reply.mutable_job()));
                   }),
               timeout_ms);
}

absl::Status GrpcGcsClient::UnregisterNode(const NodeId& node, const std::string& reason,
                                           int64_t timeout_ms) {
  rpc::UnregisterNodeRequest request;
  request.set_node_id(node.Binary());
  request.set_reason(reason);
  return client_.CallSync(&rpc::GcsService::Stub::UnregisterNode, request, timeout_ms).status();
}

}  // namespace lumen::raylet
