// lumen-gcs: the head node's metadata service. Parses flags, builds a
// GcsServer, serves until SIGTERM or SIGINT. See docs/gcs.md.
#include <gflags/gflags.h>
#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <iostream>

#include "common/fate_share.h"
#include "common/logging.h"
#include "common/paths.h"
#include "common/rpc/auth.h"
#include "common/rpc/tls.h"
#include "gcs/gcs_server.h"

DEFINE_int32(port, 6379, "Port to serve gRPC on; 0 picks a free port.");
DEFINE_string(host, "127.0.0.1", "Address to listen on (0.0.0.0 for every interface).");
DEFINE_string(redis_address, "", "host:port of a Redis keeping the GCS tables; empty: in memory.");
DEFINE_string(redis_password_file, "",
              "File holding the password of --redis-address (owned by this user, mode 0600); "
              "else $LUMEN_REDIS_PASSWORD.");
DEFINE_string(redis_password, "",
              "Refused: a command line is visible to every user in ps. Use --redis-password-file "
              "or LUMEN_REDIS_PASSWORD.");
DEFINE_string(redis_namespace, "default",
              "Cluster namespace in Redis: tables are HASHes lumen:<namespace>:<TABLE>.");
DEFINE_string(token_file, "", "File holding the cluster token (else LUMEN_TOKEN, ~/.lumen/token).");
DEFINE_string(tls_cert, "", "TLS certificate (PEM) of this node, else $LUMEN_TLS_CERT; with --tls-key "
              "and --tls-ca every connection is mutual TLS (docs/security.md).");
DEFINE_string(tls_key, "", "Private key (PEM, mode 0600) of --tls-cert, else $LUMEN_TLS_KEY.");
DEFINE_string(tls_ca, "", "CA (PEM) that signed every node's certificate, else $LUMEN_TLS_CA.");
DEFINE_string(port_file, "", "Write the bound port to this file once serving.");
DEFINE_int32(health_check_period_ms, 1000, "How often each raylet is health-checked.");
DEFINE_int32(health_check_timeout_ms, 1000, "How long a health check may take.");
DEFINE_int64(task_events_max_per_job, 100000,
             "Task events: the most recent task attempts kept per job (lumen list tasks).");
DEFINE_int32(metrics_export_port, -1,
             "Serve Prometheus metrics over HTTP at this port's /metrics; 0 picks a free port, "
             "-1 (default) exports none (docs/metrics.md).");
DEFINE_string(session_dir, "",
              "Session directory: the metrics endpoint is advertised in "
              "<dir>/metrics/prom_metrics_service_discovery.json.");
DEFINE_int32(health_check_failure_threshold, 3,
             "Consecutive failed health checks after which a raylet is dead.");

namespace {

int Fail(const std::string& message) {
  std::cerr << "lumen-gcs: " << message << std::endl;
  return 1;
}

// The Redis password: from --redis-password-file, else the environment;
// never from the command line.
absl::StatusOr<std::string> RedisPassword() {
  if (!FLAGS_redis_password.empty()) {
    return absl::InvalidArgumentError(
        "--redis-password is visible to every user in ps; put the password in a file only you "
        "can read and pass --redis-password-file, or set " +
        std::string(lumen::rpc::kRedisPasswordEnv));
  }
  if (!FLAGS_redis_password_file.empty()) {
    return lumen::rpc::ReadSecretFile(FLAGS_redis_password_file, "Redis password file");
  }
  const char* env = std::getenv(lumen::rpc::kRedisPasswordEnv);
  return std::string(env ? env : "");
}

}  // namespace

int main(int argc, char** argv) {
  gflags::SetUsageMessage("lumen-gcs [flags]: the Lumen cluster metadata service");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  lumen::InitLogging(argv[0]);
  // Before any thread starts: it may export the settings to the environment.
  if (absl::Status tls = lumen::rpc::InitProcessTls({FLAGS_tls_cert, FLAGS_tls_key, FLAGS_tls_ca});
      !tls.ok()) {
    return Fail(std::string(tls.message()));
  }
  // Block the stop signals before any thread starts; main waits for them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  lumen::StartFateSharingFromEnv();  // A private cluster's GCS stops with its driver.

  auto token = lumen::rpc::FindOrCreateToken(FLAGS_token_file);
  if (!token.ok()) return Fail("no cluster token: " + std::string(token.status().message()));

  auto redis_password = RedisPassword();
  if (!redis_password.ok()) return Fail(std::string(redis_password.status().message()));

  lumen::gcs::GcsServerOptions options;
  options.host = FLAGS_host;
  options.port = FLAGS_port;
  options.token = *token;
  options.redis_address = FLAGS_redis_address;
  options.redis_password = *redis_password;
  options.redis_namespace = FLAGS_redis_namespace;
  options.health_check.period_ms = FLAGS_health_check_period_ms;
  options.health_check.timeout_ms = FLAGS_health_check_timeout_ms;
  options.health_check.failure_threshold = FLAGS_health_check_failure_threshold;
  options.task_events.max_tasks_per_job = std::max<int64_t>(1, FLAGS_task_events_max_per_job);

  options.metrics_export_port = FLAGS_metrics_export_port;
  options.session_dir = FLAGS_session_dir;

  lumen::gcs::GcsServer server(options);
  auto port = server.Start();
  if (!port.ok()) {
    std::string message(port.status().message());
    if (absl::IsAlreadyExists(port.status())) message += "; is a GCS already running? (--port)";
    return Fail(message);
  }
  if (!FLAGS_port_file.empty()) {
    if (absl::Status s = lumen::WritePrivateFile(FLAGS_port_file, std::to_string(*port) + "\n");
        !s.ok()) {
      return Fail("cannot write the port: " + std::string(s.message()));
    }
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  LOG(INFO) << "received signal " << signal_number << ", stopping";
  server.Stop();
  return 0;
}
