// raylet/raylet_daemon.h
//
// Raylet wires one node's raylet together: the event loop (run on the
// calling thread), the worker pool and lease manager behind NodeManager,
// the RayletService gRPC server, the GCS connection, and the timers and
// signals that drive them:
//   every 100 ms   reap exited workers, expire idle/unregistered workers,
//                  tick the GCS connection (registration, resource reports)
//                  and the GCS reporter (job ends, actor worker deaths)
//   every 500 ms   check that drivers are alive
//   every 200 ms   poll the cluster view from the GCS (spillback)
//   SIGCHLD        reap at once
//   SIGTERM/INT    kill every worker, unregister at the GCS, stop.
// Owns everything it builds. Threading: Run() is the loop; gRPC threads only
// post into it. Failure: Start() returns what prevents serving (port in
// use); a GCS never reached within the connect timeout, or one refusing the
// token, ends Run() with 1 after printing one line on stderr.
#pragma once

#include <boost/asio/signal_set.hpp>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "common/event_loop.h"
#include "common/rpc/server.h"
#include "common/clock.h"
#include "raylet/cluster_view.h"
#include "raylet/gcs_connection.h"
#include "raylet/gcs_reporter.h"
#include "raylet/lease_manager.h"
#include "raylet/node_manager.h"
#include "raylet/node_resources.h"
#include "raylet/object_data.h"
#include "raylet/object_freer.h"
#include "raylet/object_manager.h"
#include "raylet/object_transfer.h"
#include "raylet/plasma_check.h"
#include "raylet/process_launcher.h"
#include "common/metrics_http.h"
#include "raylet/raylet_metrics.h"
#include "raylet/raylet_service.h"
#include "raylet/worker_pool.h"

namespace lumen::raylet {

struct RayletOptions {
  std::string gcs_address;  // host:port, required.
  int port = 0;             // 0: a free port.
  std::string port_file;    // Receives the bound port once serving.
  std::string node_ip;
  NodeResourceOptions resources;
  std::string plasma_socket;
  std::string session_dir;  // Must exist; worker logs go to <dir>/logs.
  std::string spill_dir;    // Spilled objects; empty: <session_dir>/spill.
  std::string token;
  int64_t gcs_connect_timeout_ms = 10000;
  int num_prestart_workers = -1;  // -1: the node's CPU count.
  int64_t worker_idle_timeout_ms = 10000;
  int64_t worker_register_timeout_ms = 30000;
  // Workers bind two ports of [min, max] each (raylet/worker_ports.h);
  // both 0: any free port.
  int min_worker_port = 0;
  int max_worker_port = 0;
  // Prometheus endpoint (docs/metrics.md): -1 none, 0 a free port.
  int metrics_export_port = -1;
  // The object data port (raylet/object_data.h): 0 a free port, where a
  // failure to listen only falls back to gRPC chunks; a port asked for that
  // cannot be had fails Start().
  int object_manager_port = 0;
};

class Raylet {
 public:
  explicit Raylet(RayletOptions options);
  ~Raylet();

  // Serves RPCs, writes the port file, starts connecting to the GCS.
  absl::Status Start();
  // Runs the loop until a stop signal or a fatal GCS error; the exit code.
  int Run();

 private:
  WorkerPoolOptions MakePoolOptions(const ResourceSet& total) const;
  void StartTimers();
  absl::Status StartObjectDataServer();
  void WaitForSignals();
  void WaitForChildren();
  void Stop(const std::string& reason, int exit_code);
  void PollClusterView();

  RayletOptions options_;
  NodeId node_id_;
  EventLoop loop_;
  SystemClock clock_;
  PosixProcessLauncher launcher_;
  std::unique_ptr<GcsClient> gcs_client_;
  std::unique_ptr<GcsReporter> gcs_reporter_;
  std::unique_ptr<WorkerPool> pool_;
  std::unique_ptr<LeaseManager> leases_;
  std::unique_ptr<NodeManager> node_manager_;
  std::unique_ptr<ClusterView> cluster_view_;
  bool polling_cluster_ = false;
  TransferCounters transfers_;  // Before the registry and the transfer objects, which use it.
  metrics::Registry metrics_;  // Before the gate, which records into it.
  std::unique_ptr<WorkerMetricsSink> worker_metrics_;
  std::unique_ptr<metrics::MetricsExporter> exporter_;  // Serves on the loop.
  rpc::CallGate gate_;
  std::unique_ptr<RayletServiceImpl> service_;
  rpc::GrpcServer server_;
  std::unique_ptr<GcsConnection> gcs_;
  std::unique_ptr<ObjectManager> object_manager_;  // Before the watch that feeds it.
  std::unique_ptr<ObjectDataServer> object_data_;  // Object bytes to other nodes; before the sender.
  std::unique_ptr<ObjectSender> object_sender_;    // Objects to other nodes.
  std::unique_ptr<ObjectPuller> object_puller_;    // Objects from other nodes.
  std::unique_ptr<ObjectFreer> object_freer_;      // Owners' frees of copies.
  std::unique_ptr<PlasmaWatch> plasma_watch_;
  boost::asio::signal_set stop_signals_;
  boost::asio::signal_set child_signals_;
  int exit_code_ = 0;
  bool stopping_ = false;
};

// Writes `port` to `path` through a temporary file and a rename.
absl::Status WritePortFile(const std::string& path, int port);

}  // namespace lumen::raylet
