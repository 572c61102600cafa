// lumen-dashboard: the head node's HTTP server (docs/dashboard.md): the Jobs
// REST API and its job supervisor, and the web page. Parses flags, wires the
// GCS job store, the JobManager, the cluster view and the HTTP server on one
// loop, serves until SIGTERM or SIGINT, then stops the jobs it runs.
#include <gflags/gflags.h>
#include <signal.h>

#include <future>
#include <iostream>

#include "common/event_loop.h"
#include "common/fate_share.h"
#include "common/http_server.h"
#include "common/logging.h"
#include "common/paths.h"
#include "common/rpc/auth.h"
#include "common/rpc/tls.h"
#include "deploy/dashboard/dashboard_service.h"
#include "deploy/dashboard/job_manager.h"
#include "deploy/dashboard/job_store.h"

DEFINE_string(host, "127.0.0.1", "Address to listen on (0.0.0.0 for every interface).");
DEFINE_int32(port, 8265, "HTTP port; 0 picks a free port.");
DEFINE_bool(any_port_if_taken, false,
            "When --port is taken, take a free port instead of failing (the default port "
            "of `lumen start`, where several clusters may share a machine).");
DEFINE_string(gcs_address, "", "ip:port of the cluster's GCS (required).");
DEFINE_string(session_dir, "", "The head's session directory (required): job logs go to its "
              "logs/, the address to <dir>/dashboard_address.");
DEFINE_string(token_file, "", "File holding the cluster token (else LUMEN_TOKEN, ~/.lumen/token).");
DEFINE_string(port_file, "", "Write the bound port to this file once serving.");
DEFINE_string(node_id, "", "Hex id of this node, reported as the jobs' driver_node_id.");
DEFINE_string(chart_js, "/usr/share/javascript/chart.js/chart.min.js",
              "Chart.js (Debian's libjs-chart.js), served to the web page as /static/chart.js.");
DEFINE_int32(sample_period_ms, 2000, "How often the page's chart history takes a sample.");
DEFINE_int32(job_stop_grace_ms, 3000,
             "A stopped job gets SIGTERM, then SIGKILL after this many milliseconds.");

namespace {

int Fail(const std::string& message) {
  std::cerr << "lumen-dashboard: " << message << std::endl;
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("lumen-dashboard [flags]: the Lumen dashboard and job supervisor");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  lumen::InitLogging(argv[0]);
  if (FLAGS_gcs_address.empty() || FLAGS_session_dir.empty()) {
    return Fail("--gcs-address and --session-dir are required");
  }
  if (absl::Status tls = lumen::rpc::InitProcessTls({}); !tls.ok()) {
    return Fail(std::string(tls.message()));
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  lumen::StartFateSharingFromEnv();

  auto token = lumen::rpc::FindToken(FLAGS_token_file);
  if (!token.ok()) return Fail("no cluster token: " + std::string(token.status().message()));

  lumen::EventLoop loop;
  lumen::dashboard::GcsJobStore store(FLAGS_gcs_address, *token, /*timeout_ms=*/3000);
  lumen::dashboard::JobManagerOptions options;
  options.gcs_address = FLAGS_gcs_address;
  options.token = *token;
  options.session_dir = FLAGS_session_dir;
  options.node_id_hex = FLAGS_node_id;
  options.stop_grace_ms = FLAGS_job_stop_grace_ms;
  lumen::dashboard::JobManager jobs(store, options);
  jobs.FailOrphans();
  lumen::dashboard::ClusterView cluster(FLAGS_gcs_address, *token, /*timeout_ms=*/3000);
  lumen::dashboard::DashboardService service(jobs, cluster, *token, FLAGS_chart_js);
  lumen::http::HttpServer server(loop.io_context(), [&service](const lumen::http::Request& r) {
    return service.Handle(r);
  });
  auto port = server.Start(FLAGS_host, FLAGS_port);
  if (!port.ok() && absl::IsAlreadyExists(port.status()) && FLAGS_any_port_if_taken) {
    LOG(WARNING) << port.status().message() << "; taking a free port";
    port = server.Start(FLAGS_host, 0);
  }
  if (!port.ok()) {
    std::string message(port.status().message());
    if (absl::IsAlreadyExists(port.status())) message += " (--dashboard-port)";
    return Fail(message);
  }
  loop.RunEvery(std::chrono::milliseconds(100), [&jobs] {
    jobs.Poll();
    return true;
  });
  loop.RunEvery(std::chrono::milliseconds(FLAGS_sample_period_ms), [&cluster] {
    auto snapshot = cluster.Snapshot();
    if (snapshot.ok()) cluster.Sample(*snapshot);
    return true;
  });
  loop.StartThread();
  // Where the CLI finds it: an address it can connect to.
  const std::string host = FLAGS_host == "0.0.0.0" ? "127.0.0.1" : FLAGS_host;
  const std::string address = (host.find(':') != std::string::npos ? "[" + host + "]" : host) +
                              ":" + std::to_string(*port);
  absl::Status recorded =
      lumen::WritePrivateFile(FLAGS_session_dir + "/dashboard_address", address + "\n");
  if (recorded.ok() && !FLAGS_port_file.empty()) {
    recorded = lumen::WritePrivateFile(FLAGS_port_file, std::to_string(*port) + "\n");
  }
  if (!recorded.ok()) return Fail("cannot record the address: " + std::string(recorded.message()));
  LOG(INFO) << "dashboard serving on http://" << address;

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LOG(INFO) << "received signal " << signal_number << ", stopping";
  std::promise<void> stopped;
  loop.Post([&] {
    server.Stop();
    jobs.StopAll("the dashboard stopped");
    stopped.set_value();
  });
  stopped.get_future().wait();
  loop.StopAndJoin();
  return 0;
}
