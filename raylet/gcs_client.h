// raylet/gcs_client.h
//
// GcsClient is the narrow slice of the GCS that a raylet uses: register its
// node, report its resources, unregister at exit, and tell it about job ends
// and actor worker deaths (sent and retried by GcsReporter), and read the
// cluster (other nodes' resources and addresses, a job's JobInfo) for
// spillback (docs/scheduling.md). GrpcGcsClient
// does it over RpcClient<GcsService>; tests use FakeGcsClient
// (fake_gcs_client.h).
// Threading: asynchronous calls deliver their callback on the loop given to
// GrpcGcsClient. Failure: transport and server errors arrive as Status;
// UNAVAILABLE / DEADLINE_EXCEEDED mean the GCS could not be reached.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "common/event_loop.h"
#include "common/id.h"
#include "common/rpc/client.h"
#include "proto/gcs.grpc.pb.h"

namespace lumen::raylet {

class GcsClient {
 public:
  using StatusCallback = std::function<void(absl::Status)>;
  // `unknown_node`: the GCS answered but does not know this node.
  using ReportCallback = std::function<void(absl::Status, bool unknown_node)>;

  virtual ~GcsClient() = default;
  virtual void RegisterNode(const rpc::RegisterNodeRequest& request, int64_t timeout_ms,
                            StatusCallback done) = 0;
  virtual void ReportResources(const rpc::ResourceView& view, int64_t timeout_ms,
                               ReportCallback done) = 0;
  virtual void MarkJobFinished(const JobId& job, int64_t timeout_ms, StatusCallback done) = 0;
  virtual void ReportWorkerFailure(const rpc::ReportWorkerFailureRequest& request,
                                   int64_t timeout_ms, StatusCallback done) = 0;
  // Reads for the cluster view; fakes that do not serve them answer
  // UNIMPLEMENTED.
  using ClusterCallback = std::function<void(absl::Status, rpc::GetClusterResourcesReply)>;
  using NodesCallback = std::function<void(absl::Status, std::vector<rpc::NodeInfo>)>;
  using JobCallback = std::function<void(absl::Status, rpc::JobInfo)>;  // NotFound: unknown.
  // `timeout_ms` bounds the call; the request's own timeout_ms (the long
  // poll's wait) must be shorter.
  virtual void GetClusterResources(const rpc::GetClusterResourcesRequest& request,
                                   int64_t timeout_ms, ClusterCallback done) {
    done(absl::UnimplementedError("GetClusterResources"), {});
  }
  virtual void GetAllNodes(int64_t timeout_ms, NodesCallback done) {
    done(absl::UnimplementedError("GetAllNodes"), {});
  }
  virtual void GetJob(const JobId& job, int64_t timeout_ms, JobCallback done) {
    done(absl::UnimplementedError("GetJob"), {});
  }
  // Blocking; for shutdown.
  virtual absl::Status UnregisterNode(const NodeId& node, const std::string& reason,
                                      int64_t timeout_ms) = 0;
};

class GrpcGcsClient : public GcsClient {
 public:
  // Callbacks run on `loop`, which must outlive every call in flight.
  GrpcGcsClient(const std::string& address, const std::string& token, EventLoop& loop)
      : client_(address, token, &loop) {}

  void RegisterNode(const rpc::RegisterNodeRequest& request, int64_t timeout_ms,
                    StatusCallback done) override;
  void ReportResources(const rpc::ResourceView& view, int64_t timeout_ms,
                       ReportCallback done) override;
  absl::Status UnregisterNode(const NodeId& node, const std::string& reason,
                              int64_t timeout_ms) override;
  void MarkJobFinished(const JobId& job, int64_t timeout_ms, StatusCallback done) override;
  void ReportWorkerFailure(const rpc::ReportWorkerFailureRequest& request, int64_t timeout_ms,
                           StatusCallback done) override;
  void GetClusterResources(const rpc::GetClusterResourcesRequest& request, int64_t timeout_ms,
                           ClusterCallback done) override;
  void GetAllNodes(int64_t timeout_ms, NodesCallback done) override;
  void GetJob(const JobId& job, int64_t timeout_ms, JobCallback done) override;

 private:
  rpc::RpcClient<rpc::GcsService> client_;
};

}  // namespace lumen::raylet
