// deploy/dashboard/cluster_view.h
//
// What the web page shows, gathered from the GCS: ClusterView::Snapshot()
// asks for the nodes, their resource views (CPU, GPU, memory, object
// store), the drivers' jobs, the actors and the task events, and returns
// them as one JSON document (the page's data, also GET /api/cluster).
// Sample() keeps a short history (the last kHistoryPoints snapshots' task
// and object-store counts) for the page's chart.
// Threading: one thread (the dashboard's loop); Snapshot blocks it for the
// GCS calls (loopback: milliseconds; `timeout_ms` at most each).
// Failure: Unavailable when the GCS does not answer.
#pragma once

#include <deque>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "common/rpc/client.h"
#include "proto/gcs.grpc.pb.h"
#include "proto/task_events.grpc.pb.h"

namespace lumen::dashboard {

inline constexpr size_t kHistoryPoints = 150;  // 5 minutes at one point per 2 s.

class ClusterView {
 public:
  ClusterView(const std::string& gcs_address, const std::string& token, int timeout_ms);

  // {"time_ms", "nodes": [...], "totals": {...}, "drivers": [...],
  //  "actors": [...], "tasks": {"by_state", "by_function", "failed",
  //  "finished"}}. Ids are hex.
  absl::StatusOr<nlohmann::json> Snapshot();
  // Appends {"t": time_ms, "finished": tasks finished, "store_used": bytes}.
  void Sample(const nlohmann::json& snapshot);
  // The samples, oldest first.
  nlohmann::json History() const;

 private:
  absl::StatusOr<nlohmann::json> Gather();

  rpc::RpcClient<rpc::GcsService> gcs_;
  rpc::RpcClient<rpc::TaskEventService> task_events_;
  int timeout_ms_;
  std::deque<nlohmann::json> history_;
};

}  // namespace lumen::dashboard
