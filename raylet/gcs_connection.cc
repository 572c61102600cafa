#include "raylet/gcs_connection.h"

#include <algorithm>

#include "common/logging.h"

namespace lumen::raylet {

GcsConnection::GcsConnection(GcsClient& client, const Clock& clock, rpc::NodeInfo node,
                             GcsConnectionOptions options,
                             std::function<void(const std::string&)> on_fatal)
    : client_(client),
      clock_(clock),
      node_(std::move(node)),
      options_(std::move(options)),
      on_fatal_(std::move(on_fatal)) {}

void GcsConnection::Start() {
  start_ms_ = clock_.MonotonicMs();
  SendRegister();
}

void GcsConnection::Tick(const rpc::ResourceView& view) {
  if (in_flight_ || state_ == State::kGaveUp) return;
  int64_t now = clock_.MonotonicMs();
  if (state_ == State::kConnecting && now - start_ms_ >= options_.connect_timeout_ms) {
    LOG(ERROR) << "last error from the GCS: " << last_error_;
    GiveUp("cannot reach GCS at " + options_.gcs_address + " after " +
           std::to_string(options_.connect_timeout_ms / 1000) + "s");
    return;
  }
  if (state_ != State::kRegistered) {
    if (now >= next_attempt_ms_) SendRegister();
    return;
  }
  int64_t since = now - last_report_ms_;
  if (since >= options_.report_max_interval_ms ||
      (since >= options_.report_min_interval_ms && view.SerializeAsString() != last_sent_view_)) {
    SendReport(view);
  }
}

void GcsConnection::SendRegister() {
  int64_t timeout = options_.rpc_timeout_ms;
  if (state_ == State::kConnecting) {
    int64_t left = options_.connect_timeout_ms - (clock_.MonotonicMs() - start_ms_);
    timeout = std::clamp<int64_t>(left, 100, options_.rpc_timeout_ms);
  }
  in_flight_ = true;
  rpc::RegisterNodeRequest request;
  *request.mutable_node() = node_;
  if (options_.live_jobs) {
    for (auto& job : options_.live_jobs()) *request.add_live_jobs() = std::move(job);
  }
  client_.RegisterNode(request, timeout, [this](absl::Status st) { OnRegistered(st); });
}

void GcsConnection::OnRegistered(absl::Status status) {
  in_flight_ = false;
  if (absl::IsUnauthenticated(status) && state_ == State::kConnecting) {
    GiveUp("the GCS at " + options_.gcs_address + " refused this node: " +
           std::string(status.message()) + " (check --token-file / LUMEN_TOKEN)");
    return;
  }
  if (!status.ok()) {
    last_error_ = status.ToString();
    next_attempt_ms_ = clock_.MonotonicMs() + options_.retry_interval_ms;
    VLOG(1) << "RegisterNode at " << options_.gcs_address << " failed: " << status;
    return;
  }
  LOG(INFO) << (state_ == State::kConnecting ? "registered" : "re-registered") << " node "
            << NodeId::FromBinaryOrNil(node_.node_id()).Hex() << " with the GCS at "
            << options_.gcs_address;
  state_ = State::kRegistered;
  lost_ = false;
  last_report_ms_ = 0;  // Report at the next tick.
  last_sent_view_.clear();
}

void GcsConnection::GiveUp(const std::string& message) {
  state_ = State::kGaveUp;
  LOG(ERROR) << message;
  on_fatal_(message);
}

void GcsConnection::SendReport(const rpc::ResourceView& view) {
  in_flight_ = true;
  last_report_ms_ = clock_.MonotonicMs();
  std::string sent = view.SerializeAsString();
  client_.ReportResources(view, options_.rpc_timeout_ms,
                          [this, sent = std::move(sent)](absl::Status st, bool unknown) {
                            OnReported(st, unknown, sent);
                          });
}

void GcsConnection::OnReported(absl::Status status, bool unknown_node, std::string sent) {
  in_flight_ = false;
  if (!status.ok()) {
    if (!lost_) {
      LOG(WARNING) << "lost contact with the GCS at " << options_.gcs_address << " (" << status
                   << "); retrying";
    }
    lost_ = true;
    return;
  }
  if (lost_) LOG(INFO) << "the GCS at " << options_.gcs_address << " is reachable again";
  lost_ = false;
  if (unknown_node) {
    AskWhyUnknown();
    return;
  }
  last_sent_view_ = std::move(sent);
}

void GcsConnection::AskWhyUnknown() {
  in_flight_ = true;
  client_.GetAllNodes(options_.rpc_timeout_ms,
                      [this](absl::Status status, std::vector<rpc::NodeInfo> nodes) {
                        in_flight_ = false;
                        OnWhyUnknown(status, nodes);
                      });
}

void GcsConnection::OnWhyUnknown(absl::Status status, const std::vector<rpc::NodeInfo>& nodes) {
  const int64_t now = clock_.MonotonicMs();
  state_ = State::kReregistering;
  next_attempt_ms_ = now;
  bool unreachable = false;  // The GCS's cause, gcs/gcs_state.h kHealthCheckFailedCause.
  for (const rpc::NodeInfo& node : nodes) {
    unreachable |= status.ok() && node.node_id() == node_.node_id() &&
                   node.state() == rpc::NodeInfo::DEAD && node.death_cause() == "health check failed";
  }
  if (!unreachable) {
    LOG(WARNING) << "the GCS does not know this node (restarted without its state?); "
                    "registering again";
    return;
  }
  if (now - last_health_death_ms_ > options_.health_death_window_ms) health_deaths_ = 0;
  ++health_deaths_;
  last_health_death_ms_ = now;
  const std::string why = "the GCS marked this node dead: its health checks failed, so it cannot reach "
                          "this raylet at " + node_.ip() + ":" + std::to_string(node_.raylet_port()) +
                          ", the address it advertises (check --node-ip-address, firewalls and routes)";
  if (health_deaths_ >= options_.health_deaths_limit) {
    GiveUp(why + "; " + std::to_string(health_deaths_) + " times in a row: this node stops");
    return;
  }
  LOG(ERROR) << why << "; registering again";
}

void GcsConnection::Unregister(const std::string& reason, int64_t timeout_ms) {
  if (state_ == State::kConnecting || state_ == State::kGaveUp) return;
  absl::Status st =
      client_.UnregisterNode(NodeId::FromBinaryOrNil(node_.node_id()), reason, timeout_ms);
  if (!st.ok()) LOG(WARNING) << "UnregisterNode at " << options_.gcs_address << ": " << st;
}

}  // namespace lumen::raylet
