#include "raylet/raylet_daemon.h"

#include <signal.h>

#include "common/fate_share.h"
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "common/logging.h"
#include "common/net.h"
#include "common/paths.h"
#include "common/rpc/tls.h"
#include "common/status.h"
#include "raylet/plasma_check.h"

namespace lumen::raylet {
namespace {

constexpr std::chrono::milliseconds kTickPeriod{100};
constexpr std::chrono::milliseconds kDriverCheckPeriod{500};

std::string Hostname() {
  char name[256] = {0};
  if (::gethostname(name, sizeof(name) - 1) != 0) return "";
  return name;
}

int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

absl::Status WritePortFile(const std::string& path, int port) {
  // 0600, under a fresh name renamed into place (never through a symlink).
  return WritePrivateFile(path, std::to_string(port) + "\n");
}

Raylet::Raylet(RayletOptions options)
    : options_(std::move(options)),
      node_id_(NodeId::FromRandom()),
      gate_(&loop_, options_.token),
      server_(options_.node_ip, options_.port, options_.token),
      stop_signals_(loop_.io_context(), SIGTERM, SIGINT),
      child_signals_(loop_.io_context(), SIGCHLD) {
  ResourceSet total = BuildTotalResources(options_.resources);
  LOG(INFO) << "node " << node_id_.Hex() << " at " << options_.node_ip << " offers "
            << total.DebugString();
  gcs_client_ = std::make_unique<GrpcGcsClient>(options_.gcs_address, options_.token, loop_);
  gcs_reporter_ = std::make_unique<GcsReporter>(*gcs_client_, clock_);
  pool_ = std::make_unique<WorkerPool>(launcher_, clock_, MakePoolOptions(total));
  leases_ = std::make_unique<LeaseManager>(*pool_, total);
  NodeManagerConfig config{node_id_, options_.node_ip, options_.plasma_socket, options_.session_dir,
                           options_.gcs_address};
  node_manager_ = std::make_unique<NodeManager>(config, *pool_, *leases_, *gcs_reporter_);
  cluster_view_ = std::make_unique<ClusterView>(node_id_.Binary());
  node_manager_->SetClusterView(cluster_view_.get());
  node_manager_->SetJobFetcher([this](const JobId& job, auto done) {
    gcs_client_->GetJob(job, 5000, [done = std::move(done)](absl::Status st, rpc::JobInfo info) {
      if (st.ok()) {
        done(std::move(info));
      } else {
        done(st);
      }
    });
  });
  service_ = std::make_unique<RayletServiceImpl>(gate_, *node_manager_);
  if (options_.metrics_export_port >= 0) {
    gate_.RecordLatency(metrics_, "RayletService");
    AddRayletCollector(metrics_, {options_.node_ip, node_id_.Hex()}, *node_manager_, *leases_, *pool_,
                       transfers_);
    worker_metrics_ = std::make_unique<WorkerMetricsSink>(metrics_);
    service_->set_metrics_sink(worker_metrics_.get());
    exporter_ = std::make_unique<metrics::MetricsExporter>(loop_.io_context(), metrics_);
  }
  server_.RegisterService(service_.get());
}

Raylet::~Raylet() {
  server_.Shutdown();
  if (pool_) pool_->KillAll();
}

WorkerPoolOptions Raylet::MakePoolOptions(const ResourceSet& total) const {
  int cpus = static_cast<int>(std::ceil(total.Get("CPU")));
  WorkerPoolOptions pool;
  auto worker_binary = FindLumenBinary("lumen-worker");
  if (worker_binary.ok()) pool.lumen_worker_path = *worker_binary;
  pool.gcs_address = options_.gcs_address;
  pool.node_ip = options_.node_ip;
  pool.node_id_hex = node_id_.Hex();
  pool.token = options_.token;
  pool.session_dir = options_.session_dir;
  pool.plasma_socket = options_.plasma_socket;
  pool.num_prestart_workers =
      options_.num_prestart_workers >= 0 ? options_.num_prestart_workers : cpus;
  pool.max_starting_workers = std::max(2, cpus);
  pool.idle_timeout_ms = options_.worker_idle_timeout_ms;
  pool.register_timeout_ms = options_.worker_register_timeout_ms;
  pool.min_worker_port = options_.min_worker_port;
  pool.max_worker_port = options_.max_worker_port;
  pool.worker_port_is_free = [ip = options_.node_ip](int port) { return CheckPortFree(ip, port).ok(); };
  return pool;
}

absl::Status Raylet::Start() {
  auto port = server_.Start();
  if (!port.ok()) return port.status();
  std::string address = options_.node_ip + ":" + std::to_string(*port);
  pool_->set_raylet_address(address);
  LOG(INFO) << "raylet serving at " << address;
  if (!options_.plasma_socket.empty()) {
    absl::Status plasma = CheckPlasmaStore(options_.plasma_socket);
    if (plasma.ok()) {
      LOG(INFO) << "plasma store at " << options_.plasma_socket << " answers";
    } else {
      LOG(WARNING) << "plasma store at " << options_.plasma_socket << " not usable yet: " << plasma;
    }
  }
  rpc::NodeInfo node;
  node.set_node_id(node_id_.Binary());
  node.set_ip(options_.node_ip);
  node.set_raylet_port(*port);
  node.set_plasma_socket(options_.plasma_socket);
  for (const auto& [name, amount] : leases_->resources().total().ToMap()) {
    (*node.mutable_resources_total())[name] = amount;
  }
  node.set_is_head(options_.resources.is_head);
  node.set_start_time_ms(WallClockMs());
  node.set_session_dir(options_.session_dir);
  node.set_hostname(Hostname());
  GcsConnectionOptions gcs_options;
  gcs_options.gcs_address = options_.gcs_address;
  gcs_options.connect_timeout_ms = options_.gcs_connect_timeout_ms;
  gcs_options.live_jobs = [this] { return pool_->LiveJobs(); };
  gcs_ = std::make_unique<GcsConnection>(*gcs_client_, clock_, std::move(node), gcs_options,
                                         [this](const std::string& message) {
                                           std::cerr << "lumen-raylet: " << message << std::endl;
                                           Stop(message, 1);
                                         });
  if (exporter_) {
    RETURN_IF_ERROR(metrics::ServeMetrics(*exporter_, {options_.metrics_export_port, options_.node_ip,
                                                       options_.session_dir, "raylet"})
                        .status());
  }
  if (!options_.plasma_socket.empty()) RETURN_IF_ERROR(StartObjectDataServer());
  if (!options_.port_file.empty()) RETURN_IF_ERROR(WritePortFile(options_.port_file, *port));
  return absl::OkStatus();
}

int Raylet::Run() {
  loop_.Post([this] {
    gcs_->Start();
    if (!options_.plasma_socket.empty()) {
      // A dead store takes the node down: the GCS marks it dead with this
      // cause, and `lumen start --block` exits non-zero (docs/plasma.md).
      plasma_watch_ = std::make_unique<PlasmaWatch>(
          loop_.io_context(), options_.plasma_socket, [this](const std::string& message) {
            LOG(ERROR) << message << ": this node stops";
            std::cerr << "lumen-raylet: " << message << ": this node stops" << std::endl;
            Stop(message, 1);
          });
      std::string spill_dir = options_.spill_dir.empty() ? options_.session_dir + "/spill" : options_.spill_dir;
      object_manager_ = std::make_unique<ObjectManager>(ObjectManagerOptions{options_.plasma_socket, spill_dir});
      plasma_watch_->SetOrderHandler(
          [this](int type, const std::vector<ObjectId>& ids) { object_manager_->HandleStoreFrame(type, ids); });
      node_manager_->SetObjectStoreStats(
          [this](rpc::GetNodeStatsReply* reply) { object_manager_->FillStats(reply); });
      object_sender_ = std::make_unique<ObjectSender>(options_.plasma_socket, object_data_.get(), &transfers_);
      ObjectPullerOptions puller_options{options_.plasma_socket, options_.token, node_id_.Binary()};
      puller_options.counters = &transfers_;
      object_puller_ = std::make_unique<ObjectPuller>(
          loop_, std::move(puller_options),
          [this](const std::string& node) { return cluster_view_->RayletAddress(node); });
      service_->set_object_transfer(object_sender_.get(), object_puller_.get());
      object_freer_ = std::make_unique<ObjectFreer>(
          options_.plasma_socket, options_.token, node_id_.Binary(),
          [this](const std::string& node) { return cluster_view_->RayletAddress(node); });
      service_->set_object_freer(object_freer_.get());
      plasma_watch_->Start();
    }
    StartTimers();
    WaitForSignals();
    WaitForChildren();
  });
  loop_.Run();
  return exit_code_;
}

// The plain TCP path for object bytes (raylet/object_data.h); not under
// TLS, where the bytes keep to the encrypted gRPC chunk path (as they do
// with $LUMEN_TESTING_NO_DATA_PORT set, for tests of that path).
// A port asked for (--object-manager-port) that cannot be had is an error;
// a free one that cannot be had leaves the gRPC chunk path.
absl::Status Raylet::StartObjectDataServer() {
  if (rpc::ProcessTls() || std::getenv("LUMEN_TESTING_NO_DATA_PORT")) {
    if (options_.object_manager_port != 0) {
      LOG(WARNING) << "--object-manager-port " << options_.object_manager_port
                   << " is not opened: object bytes travel over the raylet's gRPC port "
                   << (rpc::ProcessTls() ? "(TLS)" : "($LUMEN_TESTING_NO_DATA_PORT)");
    }
    return absl::OkStatus();
  }
  ObjectDataServerOptions data_options{.ip = options_.node_ip, .port = options_.object_manager_port,
                                       .token = options_.token, .plasma_socket = options_.plasma_socket};
  if (const char* pause = std::getenv("LUMEN_TESTING_DATA_PAUSE_MS")) data_options.testing_pause_ms = std::atoi(pause);
  data_options.counters = &transfers_;
  auto data = std::make_unique<ObjectDataServer>(std::move(data_options));
  if (absl::Status started = data->Start(); !started.ok()) {
    if (options_.object_manager_port != 0) {
      return absl::Status(started.code(), std::string(started.message()) + " (--object-manager-port)");
    }
    LOG(WARNING) << started.message() << "; objects go to other nodes in gRPC chunks";
    return absl::OkStatus();
  }
  LOG(INFO) << "object data port: " << options_.node_ip << ":" << data->port();
  object_data_ = std::move(data);
  return absl::OkStatus();
}

void Raylet::StartTimers() {
  loop_.RunEvery(kTickPeriod, [this] {
    if (stopping_) return false;
    node_manager_->ReapWorkers();
    node_manager_->Maintain();
    gcs_->Tick(node_manager_->View());
    gcs_reporter_->Tick();
    return true;
  });
  loop_.RunEvery(kClusterViewPeriod, [this] {
    if (stopping_) return false;
    PollClusterView();
    return true;
  });
  loop_.RunEvery(kDriverCheckPeriod, [this] {
    if (stopping_) return false;
    node_manager_->CheckDrivers();
    node_manager_->CheckRemoteJobs();
    return true;
  });
}

// One poll at a time: the views (alive nodes), then the addresses of nodes
// not seen before; a change (a node joined or died) places the infeasible
// requests again.
void Raylet::PollClusterView() {
  if (polling_cluster_) return;
  polling_cluster_ = true;
  rpc::GetClusterResourcesRequest request;
  request.set_after_version(cluster_view_->version());
  request.set_epoch(cluster_view_->epoch());
  request.set_timeout_ms(kClusterPollWaitMs);
  gcs_client_->GetClusterResources(request, kClusterPollWaitMs + 2000,
                                   [this](absl::Status st, rpc::GetClusterResourcesReply reply) {
    if (!st.ok() || stopping_) {
      polling_cluster_ = false;
      return;
    }
    const bool changed = cluster_view_->Apply(reply);
    if (!cluster_view_->NeedsAddresses()) {
      polling_cluster_ = false;
      node_manager_->OnClusterView(changed);
      return;
    }
    gcs_client_->GetAllNodes(1000, [this](absl::Status st, std::vector<rpc::NodeInfo> nodes) {
      polling_cluster_ = false;
      if (!st.ok() || stopping_) return;
      cluster_view_->UpdateNodes(nodes);
      node_manager_->OnClusterView(/*changed=*/true);
    });
  });
}

void Raylet::WaitForSignals() {
  stop_signals_.async_wait([this](const boost::system::error_code& ec, int signal_number) {
    if (ec) return;
    Stop("received signal " + std::to_string(signal_number), 0);
  });
  // A private cluster's raylet stops (and takes its workers) with its driver.
  StartFateSharingFromEnv();
}

void Raylet::WaitForChildren() {
  child_signals_.async_wait([this](const boost::system::error_code& ec, int) {
    if (ec || stopping_) return;
    node_manager_->ReapWorkers();
    WaitForChildren();
  });
}

void Raylet::Stop(const std::string& reason, int exit_code) {
  if (stopping_) return;
  stopping_ = true;
  exit_code_ = exit_code;
  LOG(INFO) << "stopping: " << reason;
  node_manager_->Shutdown();
  gcs_->Unregister("raylet stopped: " + reason, 1000);
  stop_signals_.cancel();
  child_signals_.cancel();
  if (exporter_) {
    exporter_->Stop();
    if (!options_.session_dir.empty()) {
      (void)metrics::UnregisterMetricsTarget(options_.session_dir, "raylet");
    }
  }
  loop_.Stop();
}

}  // namespace lumen::raylet
