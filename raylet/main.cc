// lumen-raylet: the per-node scheduler. Parses flags, builds a Raylet, runs
// its loop until SIGTERM/SIGINT. See docs/raylet.md for the flags, the
// worker start contract and the lease protocol.
#include <gflags/gflags.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "common/logging.h"
#include "common/paths.h"
#include "common/rpc/auth.h"
#include "common/rpc/tls.h"
#include "common/worker_ports.h"
#include "raylet/node_resources.h"
#include "raylet/raylet_daemon.h"

DEFINE_string(gcs_address, "", "host:port of the GCS (required).");
DEFINE_int32(port, 0, "Port to serve RayletService on; 0 picks a free port.");
DEFINE_string(port_file, "", "Write the bound port to this file once serving.");
DEFINE_string(node_ip_address, "", "IP of this node (default $LUMEN_NODE_IP, else 127.0.0.1).");
DEFINE_int32(num_cpus, -1, "CPUs to offer; default: the cores this process may run on.");
DEFINE_int32(num_gpus, -1,
             "GPUs to offer; default: CUDA_VISIBLE_DEVICES, /dev/nvidiaN, nvidia-smi.");
DEFINE_int64(memory, -1, "Bytes of the 'memory' resource; default 70% of MemAvailable.");
DEFINE_int64(object_store_memory, -1,
             "Bytes of the plasma store (the object_store_memory resource); default 30% of "
             "MemAvailable.");
DEFINE_string(resources, "", "Custom resources as a JSON object, e.g. '{\"accelerator\": 2}'.");
DEFINE_bool(head, false, "This is the head node (adds node:__internal_head__: 1).");
DEFINE_string(plasma_socket, "", "Unix socket of this node's plasma store.");
DEFINE_string(spill_dir, "",
              "Directory for objects spilled from a full object store; default: <session-dir>/spill.");
DEFINE_string(
    session_dir, "",
    "Session directory; worker logs go to <dir>/logs. Default <temp-dir>/session_latest.");
DEFINE_string(token_file, "", "File holding the cluster token (else LUMEN_TOKEN, ~/.lumen/token).");
DEFINE_string(tls_cert, "", "TLS certificate (PEM) of this node, else $LUMEN_TLS_CERT; with --tls-key "
              "and --tls-ca every connection is mutual TLS (docs/security.md).");
DEFINE_string(tls_key, "", "Private key (PEM, mode 0600) of --tls-cert, else $LUMEN_TLS_KEY.");
DEFINE_string(tls_ca, "", "CA (PEM) that signed every node's certificate, else $LUMEN_TLS_CA.");
DEFINE_int32(gcs_connect_timeout_s, 10, "Exit 1 when the GCS cannot be reached for this long.");
DEFINE_int32(num_prestart_workers, -1,
             "Workers started per job when its driver registers; "
             "default: the number of CPUs.");
DEFINE_int32(min_worker_port, 0,
             "With --max-worker-port: workers bind two ports of [min, max] each (their gRPC server and "
             "task channel); 0: any free port.");
DEFINE_int32(max_worker_port, 0, "The last port of the worker port range; 0: any free port.");
DEFINE_int32(object_manager_port, 0,
             "The object data port, where other nodes pull object bytes from (raylet/object_data.h); "
             "0 picks a free port. Not opened under TLS.");
DEFINE_int32(metrics_export_port, -1,
             "Serve Prometheus metrics over HTTP at this port's /metrics (also the workers' task "
             "and user metrics); 0 picks a free port, -1 (default) exports none "
             "(docs/metrics.md).");
DEFINE_int64(worker_idle_timeout_ms, 10000,
             "Idle workers beyond the prestarted ones are killed after this long.");

namespace {

int Fail(const std::string& message) {
  std::cerr << "lumen-raylet: " << message << std::endl;
  return 1;
}

absl::StatusOr<std::string> ResolveSessionDir(const std::string& flag) {
  std::string dir = flag;
  if (dir.empty()) {
    std::string latest = lumen::DefaultTempDir() + "/session_latest";
    if (!std::filesystem::is_directory(latest))
      return lumen::CreateSessionDir(lumen::DefaultTempDir());
    dir = std::filesystem::canonical(latest).string();
  }
  std::error_code ec;
  std::filesystem::create_directories(dir + "/logs", ec);
  if (ec) return absl::PermissionDeniedError("cannot create " + dir + "/logs: " + ec.message());
  return dir;
}

int RunMain() {
  if (FLAGS_gcs_address.empty()) return Fail("--gcs-address host:port is required");
  if (absl::Status range = lumen::CheckWorkerPortRange(FLAGS_min_worker_port, FLAGS_max_worker_port);
      !range.ok()) {
    return Fail(std::string(range.message()));
  }
  // Before any thread starts: it exports the settings to the workers' environment.
  if (absl::Status tls = lumen::rpc::InitProcessTls({FLAGS_tls_cert, FLAGS_tls_key, FLAGS_tls_ca});
      !tls.ok()) {
    return Fail(std::string(tls.message()));
  }
  auto token = lumen::rpc::FindToken(FLAGS_token_file);
  if (!token.ok()) return Fail("no cluster token: " + std::string(token.status().message()));
  auto session_dir = ResolveSessionDir(FLAGS_session_dir);
  if (!session_dir.ok()) return Fail(std::string(session_dir.status().message()));

  lumen::raylet::RayletOptions options;
  options.gcs_address = FLAGS_gcs_address;
  options.port = FLAGS_port;
  options.port_file = FLAGS_port_file;
  options.node_ip = FLAGS_node_ip_address.empty() ? lumen::DefaultNodeIp() : FLAGS_node_ip_address;
  if (!FLAGS_resources.empty()) {
    auto custom = lumen::raylet::ParseResourcesJson(FLAGS_resources);
    if (!custom.ok()) return Fail(std::string(custom.status().message()));
    options.resources.custom = *custom;
  }
  options.resources.node_ip = options.node_ip;
  options.resources.is_head = FLAGS_head;
  options.resources.num_cpus = FLAGS_num_cpus;
  options.resources.num_gpus = FLAGS_num_gpus;
  options.resources.memory_bytes = FLAGS_memory;
  options.resources.object_store_memory_bytes = FLAGS_object_store_memory;
  options.plasma_socket = FLAGS_plasma_socket;
  options.session_dir = *session_dir;
  options.spill_dir = FLAGS_spill_dir;
  options.token = *token;
  options.gcs_connect_timeout_ms = int64_t{FLAGS_gcs_connect_timeout_s} * 1000;
  options.num_prestart_workers = FLAGS_num_prestart_workers;
  options.worker_idle_timeout_ms = FLAGS_worker_idle_timeout_ms;
  options.min_worker_port = FLAGS_min_worker_port;
  options.max_worker_port = FLAGS_max_worker_port;
  options.metrics_export_port = FLAGS_metrics_export_port;
  options.object_manager_port = FLAGS_object_manager_port;

  // Never deleted: main ends the process with _Exit (see there).
  auto* raylet = new lumen::raylet::Raylet(options);
  if (auto st = raylet->Start(); !st.ok()) return Fail(std::string(st.message()));
  return raylet->Run();
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("lumen-raylet --gcs-address host:port [flags]: the Lumen node scheduler");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  lumen::InitLogging(argv[0]);
  ::signal(SIGPIPE, SIG_IGN);
  int code = RunMain();
  // Skip static and gRPC teardown: callbacks still in flight could otherwise
  // race the destruction of the loop they post into.
  google::FlushLogFiles(google::GLOG_INFO);
  std::cout.flush();
  std::cerr.flush();
  std::_Exit(code);
}
