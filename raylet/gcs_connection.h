// raylet/gcs_connection.h
//
// GcsConnection keeps this node known to the GCS. State machine, advanced by
// Tick() (called every ~100 ms on the loop) and by RPC replies:
//
//   kConnecting --RegisterNode ok--> kRegistered --unknown_node--> kReregistering
//       |  (retry every retry_interval_ms)   ^                        |
//       |                                    +----RegisterNode ok-----+
//       +-- connect_timeout_ms passed without success: on_fatal(message)
//       +-- the GCS refused our token (UNAUTHENTICATED): on_fatal(message) at once
//
// While registered it sends ReportResources when the view changed (at most
// every report_min_interval_ms) and at least every report_max_interval_ms.
// A GCS that is down after the first registration is retried forever: a
// restarted GCS with Redis knows the node again and accepts the reports; one
// without answers unknown_node and the node registers again, reporting the
// jobs of its drivers (options.live_jobs) so that their ids are not reused.
//
// unknown_node also answers a node the GCS has marked dead; the connection
// then asks the GCS (GetAllNodes) why. Dead for failed health checks means
// the GCS cannot reach this raylet at the address it advertises: logged as
// an error each time, and fatal after `health_deaths_limit` such deaths
// with less than `health_death_window_ms` between them (a node declared
// dead once, while slow, registers again; one the GCS never reaches would
// otherwise flap between alive and dead while leases sent to it hang).
//
// Threading: the raylet loop only; at most one RPC in flight. Failure:
// never being registered, or being declared unreachable as above, is fatal
// (reported through on_fatal, once); every other error is retried.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "proto/common.pb.h"
#include "common/clock.h"
#include "raylet/gcs_client.h"

namespace lumen::raylet {

struct GcsConnectionOptions {
  std::string gcs_address;  // For messages.
  int64_t connect_timeout_ms = 10000;
  int64_t rpc_timeout_ms = 2000;
  int64_t retry_interval_ms = 200;
  int64_t report_min_interval_ms = 200;
  int64_t report_max_interval_ms = 1000;
  // The jobs whose drivers are registered here, sent with every
  // registration so that a GCS that lost its tables restores them and never
  // hands their ids to new drivers. Empty function: none.
  std::function<std::vector<rpc::JobInfo>()> live_jobs;
  int health_deaths_limit = 3;
  int64_t health_death_window_ms = 60000;
};

class GcsConnection {
 public:
  enum class State { kConnecting, kRegistered, kReregistering, kGaveUp };

  // `client` and `clock` are not owned and must outlive the connection.
  GcsConnection(GcsClient& client, const Clock& clock, rpc::NodeInfo node,
                GcsConnectionOptions options, std::function<void(const std::string&)> on_fatal);

  // Starts the connect deadline and sends the first registration.
  void Start();
  void Tick(const rpc::ResourceView& view);
  // Best-effort, blocking up to `timeout_ms`.
  void Unregister(const std::string& reason, int64_t timeout_ms);

  State state() const { return state_; }
  const rpc::NodeInfo& node() const { return node_; }

 private:
  void SendRegister();
  void OnRegistered(absl::Status status);
  void SendReport(const rpc::ResourceView& view);
  void OnReported(absl::Status status, bool unknown_node, std::string sent);
  void AskWhyUnknown();
  void OnWhyUnknown(absl::Status status, const std::vector<rpc::NodeInfo>& nodes);
  void GiveUp(const std::string& message);

  GcsClient& client_;
  const Clock& clock_;
  rpc::NodeInfo node_;
  GcsConnectionOptions options_;
  std::function<void(const std::string&)> on_fatal_;
  State state_ = State::kConnecting;
  bool in_flight_ = false;
  bool lost_ = false;  // Reports failing after a registration.
  int64_t start_ms_ = 0;
  int64_t next_attempt_ms_ = 0;
  int health_deaths_ = 0;            // In a row, each within the window of the last.
  int64_t last_health_death_ms_ = 0;
  int64_t last_report_ms_ = 0;
  std::string last_sent_view_;  // Serialized; empty before the first report.
  std::string last_error_;
};

}  // namespace lumen::raylet
