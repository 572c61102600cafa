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
    LOG(WARNING) << "the GCS does not know this node (restarted without its state?); "
                    "registering again";
    state_ = State::kReregistering;
    next_attempt_ms_ = clock_.MonotonicMs();
    return;
  }
  last_sent_view_ = std::move(sent);
}

void GcsConnection::Unregister(const std::string& reason, int64_t timeout_ms) {
  if (state_ == State::kConnecting || state_ == State::kGaveUp) return;
  absl::Status st =
      client_.UnregisterNode(NodeId::FromBinaryOrNil(node_.node_id()), reason, timeout_ms);
  if (!st.ok()) LOG(WARNING) << "UnregisterNode at " << options_.gcs_address << ": " << st;
}

}  // namespace lumen::raylet
