// gcs/gcs_server.h
//
// GcsServer is the whole GCS daemon minus flag parsing: it opens the store
// (in memory, or Redis), reloads every table into GcsState, runs the GCS
// loop thread (which owns GcsState), health-checks raylets, places waiting
// actors every second, and serves GcsService over gRPC with the cluster
// token.
//
// Lifecycle: construct, Start() once, Stop() (or destroy) once. Stop()
// answers waiting long polls (node changes and actors), shuts gRPC down while the loop still runs
// (so in-flight calls finish), then stops the loop; in-flight health
// checks and actor RPCs are dropped through the LoopMailbox.
// Threading: Start/Stop from one owner thread; everything else runs on the
// loop thread. Failure: Start() returns the reason the GCS cannot serve
// (Redis unreachable or refusing the password, port in use, ...).
#pragma once

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "common/rpc/server.h"
#include "common/clock.h"
#include "gcs/actor_rpc.h"
#include "gcs/bundle_rpc.h"
#include "common/metrics_http.h"
#include "gcs/gcs_metrics.h"
#include "gcs/gcs_service.h"
#include "gcs/gcs_state.h"
#include "gcs/health_check_policy.h"
#include "gcs/loop_mailbox.h"
#include "gcs/raylet_prober.h"
#include "gcs/task_event_service.h"
#include "gcs/store/store_client.h"

namespace lumen::gcs {

struct GcsServerOptions {
  std::string host = "127.0.0.1";  // Listen address.
  int port = 6379;                 // 0 picks a free port.
  std::string token;               // The cluster token every call must carry.
  std::string redis_address;       // "host:port"; empty keeps tables in memory.
  std::string redis_password;
  std::string redis_namespace = "default";  // Redis keys are lumen:<ns>:<TABLE>.
  HealthCheckOptions health_check;
  int metrics_export_port = -1;  // Prometheus endpoint: -1 none, 0 a free port.
  std::string session_dir;       // Where the endpoint is advertised (docs/metrics.md).
  TaskEventStoreOptions task_events;  // The window of task events kept per job.
};

class GcsServer {
 public:
  explicit GcsServer(GcsServerOptions options) : options_(std::move(options)) {}
  ~GcsServer() { Stop(); }
  GcsServer(const GcsServer&) = delete;
  GcsServer& operator=(const GcsServer&) = delete;

  // Opens the store, reloads tables, starts the loop, health checks and
  // gRPC. Returns the bound port.
  absl::StatusOr<int> Start();
  void Stop();

  int port() const { return port_; }
  int metrics_port() const { return metrics_port_; }
  std::string address() const { return options_.host + ":" + std::to_string(port_); }

 private:
  absl::StatusOr<std::unique_ptr<StoreClient>> OpenStore() const;
  void ScheduleHealthChecks();
  void ScheduleActorTicks();
  void RunOnLoopAndWait(std::function<void()> fn);

  const GcsServerOptions options_;
  SystemClock clock_;
  int port_ = 0;
  bool started_ = false;
  bool stopping_ = false;  // Loop thread only.
  // Declaration order is construction order; Stop() tears down explicitly.
  std::unique_ptr<EventLoop> loop_;
  std::shared_ptr<LoopMailbox> mailbox_;
  std::unique_ptr<StoreClient> store_;
  std::unique_ptr<RayletProber> prober_;
  metrics::Registry metrics_;
  std::unique_ptr<CountingProber> counting_prober_;
  std::unique_ptr<metrics::MetricsExporter> exporter_;  // Serves on the loop.
  int metrics_port_ = 0;
  std::unique_ptr<GrpcActorRpc> actor_rpc_;
  std::unique_ptr<GrpcBundleRpc> bundle_rpc_;
  std::unique_ptr<GcsState> state_;
  std::unique_ptr<rpc::CallGate> gate_;
  std::unique_ptr<GcsServiceImpl> service_;
  std::unique_ptr<TaskEventStore> task_events_;  // Loop thread only.
  std::unique_ptr<TaskEventServiceImpl> task_event_service_;
  std::unique_ptr<rpc::GrpcServer> grpc_;
};

}  // namespace lumen::gcs
