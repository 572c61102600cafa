#include "deploy/cli/cli_flags.h"

#include <cmath>

#include "absl/strings/numbers.h"
#include "common/log_rotation.h"
#include "deploy/cli/flag_table.h"

namespace lumen::cli {
namespace {

using Setter = std::function<absl::Status(const std::string&)>;

Setter SetString(std::string& out) {
  return [&out](const std::string& value) {
    out = value;
    return absl::OkStatus();
  };
}

Setter SetSwitch(bool& out) {
  return [&out](const std::string& value) {
    out = value == "true";
    return absl::OkStatus();
  };
}

Setter SetPort(const std::string& name, int& out, bool* given = nullptr) {
  return [name, &out, given](const std::string& value) {
    if (!absl::SimpleAtoi(value, &out) || out < 0 || out > 65535) {
      return absl::InvalidArgumentError("--" + name + " must be 0..65535, got \"" + value + "\"");
    }
    if (given) *given = true;
    return absl::OkStatus();
  };
}

Setter SetCount(const std::string& name, std::optional<double>& out) {
  return [name, &out](const std::string& value) {
    double number = 0;
    if (!absl::SimpleAtod(value, &number) || !std::isfinite(number) || number < 0) {
      return absl::InvalidArgumentError("--" + name + " must be a non-negative number, got \"" + value + "\"");
    }
    out = number;
    return absl::OkStatus();
  };
}

Setter SetBytes(const std::string& name, std::optional<int64_t>& out) {
  return [name, &out](const std::string& value) {
    int64_t bytes = 0;
    double approx = 0;
    if (absl::SimpleAtoi(value, &bytes) && bytes > 0) {
      out = bytes;
    } else if (absl::SimpleAtod(value, &approx) && approx >= 1 && approx < 9e18) {
      out = static_cast<int64_t>(approx);  // Accepts 2e9 like Ray does.
    } else {
      return absl::InvalidArgumentError("--" + name + " must be a positive number of bytes, got \"" + value +
                                        "\"");
    }
    return absl::OkStatus();
  };
}

std::vector<Flag> TlsFlags(rpc::TlsConfig& tls) {
  return {
      {"tls-cert", "F", "$LUMEN_TLS_CERT",
       "this node's TLS certificate (PEM, its IP in subjectAltName); with --tls-key and --tls-ca every "
       "connection of the cluster is mutual TLS (docs/security.md)",
       SetString(tls.cert_file)},
      {"tls-key", "F", "$LUMEN_TLS_KEY", "the private key of --tls-cert (PEM, mode 0600)", SetString(tls.key_file)},
      {"tls-ca", "F", "$LUMEN_TLS_CA", "the CA that signed every node's certificate (PEM)", SetString(tls.ca_file)},
  };
}

std::vector<Flag> LogRotationFlags(deploy::NodeOptions& node) {
  return {
      {"log-rotation-max-bytes", "BYTES", "$LUMEN_ROTATION_MAX_BYTES, else $RAY_ROTATION_MAX_BYTES, else 536870912",
       "a daemon's or worker's .out file is rotated before it grows past BYTES; 0: never",
       [&node](const std::string& value) {
         absl::StatusOr<int64_t> bytes = ParseRotationMaxBytes(value, "--log-rotation-max-bytes");
         if (!bytes.ok()) return bytes.status();
         node.log_rotation_max_bytes = *bytes;
         return absl::OkStatus();
       }},
      {"log-rotation-backup-count", "K", "$LUMEN_ROTATION_BACKUP_COUNT, else $RAY_ROTATION_BACKUP_COUNT, else 5",
       "rotated files kept per log (<file>.1 ... <file>.K)",
       [&node](const std::string& value) {
         absl::StatusOr<int> count = ParseRotationBackupCount(value, "--log-rotation-backup-count");
         if (!count.ok()) return count.status();
         node.log_rotation_backup_count = *count;
         return absl::OkStatus();
       }},
  };
}

CommandSpec StartSpec(StartRequest& r) {
  deploy::NodeOptions& node = r.node;
  CommandSpec spec{"start",
                   "start a head node (--head) or join a cluster (--address)",
                   {"--head [--port 6379] [flags]", "--address HOST:PORT [flags]"},
                   "Starts the daemons of this machine's node: with --head a new cluster (GCS, object "
                   "store, raylet), with --address a node joining the cluster whose GCS is at HOST:PORT.",
                   {
                       {"head", "", "", "start a new cluster here", SetSwitch(node.head)},
                       {"address", "HOST:PORT", "", "join the cluster whose GCS is at HOST:PORT",
                        SetString(node.gcs_address)},
                       {"port", "PORT", "6379", "(head) the GCS's port; 0 picks a free one",
                        SetPort("port", node.port, &r.port_given)},
                       {"node-ip-address", "IP",
                        "$LUMEN_NODE_IP; joining: the address towards the GCS; a head: the machine's outbound "
                        "address (its GCS then listens on every interface)",
                        "the address other nodes reach this one at; every daemon of the node binds it (a "
                        "head's GCS too)",
                        SetString(node.node_ip)},
                       {"num-cpus", "N", "detected, the cores this process may use", "CPUs this node offers",
                        SetCount("num-cpus", node.num_cpus)},
                       {"num-gpus", "N", "detected, from CUDA_VISIBLE_DEVICES or /dev/nvidia*",
                        "GPUs this node offers", SetCount("num-gpus", node.num_gpus)},
                       {"resources", "JSON", "", "custom resources, e.g. '{\"special_hardware\": 1}'",
                        SetString(node.resources_json)},
                       {"object-store-memory", "BYTES", "30% of RAM, capped by the free space of /dev/shm",
                        "bytes of the shared-memory object store", SetBytes("object-store-memory", node.object_store_memory)},
                       {"redis-address", "HOST:PORT", "",
                        "(head) keep the GCS's tables in Redis, so that a GCS started again recovers them",
                        SetString(node.redis_address)},
                       {"redis-password-file", "F", "", "(head) the file holding that Redis's password (mode 0600)",
                        SetString(node.redis_password_file)},
                       {"redis-password", "P", "$LUMEN_REDIS_PASSWORD",
                        "(head) the password itself: visible to every local user in ps while `lumen start` "
                        "runs; prefer --redis-password-file or the variable",
                        SetString(node.redis_password)},
                       {"node-manager-port", "PORT", "0, a free port", "the raylet's gRPC port",
                        SetPort("node-manager-port", node.raylet_port)},
                       {"metrics-export-port", "PORT", "0, a free port",
                        "the raylet's Prometheus endpoint (/metrics, with the node's task and user "
                        "metrics); the GCS and object store take free ports; all are listed in "
                        "<session>/metrics/prom_metrics_service_discovery.json (docs/metrics.md)",
                        SetPort("metrics-export-port", node.metrics_export_port)},
                       {"min-worker-port", "PORT", "0, any free port",
                        "with --max-worker-port: workers' gRPC servers and task channels bind only ports in "
                        "[min, max], 2 per worker (docs/operations.md, \"Firewalls\")",
                        SetPort("min-worker-port", node.min_worker_port)},
                       {"max-worker-port", "PORT", "0, any free port", "the last port of that range",
                        SetPort("max-worker-port", node.max_worker_port)},
                       {"object-manager-port", "PORT", "0, a free port",
                        "the raylet's object data port, where other nodes pull object bytes from (not "
                        "opened under TLS, where they travel over the raylet's gRPC port)",
                        SetPort("object-manager-port", node.object_manager_port)},
                       {"temp-dir", "DIR", "$LUMEN_TEMP_DIR, else /tmp/lumen-<uid>", "sessions and logs",
                        SetString(node.temp_dir)},
                       {"token-file", "F", "$LUMEN_TOKEN, else $LUMEN_TOKEN_FILE, else ~/.lumen/token",
                        "the cluster token's file; a head that finds no token creates ~/.lumen/token",
                        SetString(node.token_file)},
                   }};
  for (Flag& flag : TlsFlags(r.tls)) spec.flags.push_back(std::move(flag));
  for (Flag& flag : LogRotationFlags(node)) spec.flags.push_back(std::move(flag));
  spec.flags.push_back({"include-dashboard", "", "true",
                        "(head) start lumen-dashboard, the Jobs REST API (docs/dashboard.md); "
                        "--include-dashboard=false leaves it out",
                        SetSwitch(r.include_dashboard)});
  spec.flags.push_back({"dashboard-host", "IP", "127.0.0.1",
                        "(head) the address the dashboard listens on (0.0.0.0: every interface, printed as "
                        "the node's address)",
                        SetString(node.dashboard_host)});
  spec.flags.push_back({"dashboard-port", "PORT", "8265, or a free port when 8265 is taken",
                        "(head) the dashboard's HTTP port; 0 picks a free one",
                        [&node](const std::string& value) {
                          int port = 0;
                          absl::Status s = SetPort("dashboard-port", port)(value);
                          if (s.ok()) node.dashboard_port = port;
                          return s;
                        }});
  spec.flags.push_back({"block", "", "",
                        "stay in the foreground; stop the node on SIGTERM, SIGINT or SIGHUP; under systemd "
                        "(Type=notify) report readiness, STOPPING and watchdog pings",
                        SetSwitch(r.block)});
  return spec;
}

CommandSpec StopSpec(StopRequest& r) {
  return {"stop",
          "stop the Lumen processes of this machine",
          {"[--force] [--temp-dir DIR]"},
          "Stops every Lumen process of yours on this machine, whatever temp dir it was started with "
          "(other users' processes are never touched).",
          {
              {"temp-dir", "DIR", "", "only the processes of the sessions under DIR", SetString(r.temp_dir)},
              {"force", "", "", "SIGKILL at once instead of SIGTERM and a 5 s grace period", SetSwitch(r.force)},
          }};
}

CommandSpec StatusSpec(StatusRequest& r) {
  return {"status",
          "show nodes and resources of a cluster",
          {"[--address HOST:PORT] [flags]"},
          "Shows the cluster's nodes and resources. A cluster with TLS needs the TLS flags.",
          ClusterFlags(r)};
}

// The specs, their setters writing into `out`.
std::vector<CommandSpec> Specs(ParsedArgs& out) {
  std::vector<CommandSpec> specs = {StartSpec(out.start), StatusSpec(out.status), StopSpec(out.stop)};
  for (CommandSpec& spec : StateSpecs(out.state, out.status)) specs.push_back(std::move(spec));
  specs.push_back(LogsSpec(out.logs, out.status));
  specs.push_back(JobSpec(out.job));
  return specs;
}

std::string Overview() {
  ParsedArgs scratch;
  std::string out = "usage: lumen <command> [flags]\ncommands:\n";
  for (const CommandSpec& spec : Specs(scratch)) {
    out += "  " + spec.name + std::string(9 - spec.name.size(), ' ') + spec.summary + "\n";
  }
  out +=
      "Run `lumen <command> --help` for the flags of a command. `lumen --version` prints the version,\n"
      "`lumen --help-markdown` the flag tables of every command (docs/operations.md).\n";
  return out;
}

}  // namespace

std::vector<Flag> ClusterFlags(StatusRequest& r) {
  std::vector<Flag> flags = {
      {"address", "HOST:PORT", "$RAY_ADDRESS, else the head recorded in the temp dir",
       "the cluster's GCS", SetString(r.address)},
      {"token-file", "F", "$LUMEN_TOKEN, else $LUMEN_TOKEN_FILE, else ~/.lumen/token", "the cluster token's file",
       SetString(r.token_file)},
      {"temp-dir", "DIR", "$LUMEN_TEMP_DIR, else /tmp/lumen-<uid>",
       "where the last head started is recorded (lumen_current_cluster)", SetString(r.temp_dir)},
  };
  for (Flag& flag : TlsFlags(r.tls)) flags.push_back(std::move(flag));
  return flags;
}

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args) {
  if (args.empty()) return absl::InvalidArgumentError("no command given");
  ParsedArgs parsed;
  const std::string& first = args[0];
  if (first == "--help" || first == "-h" || first == "help" || first == "--version" || first == "--help-markdown") {
    if (args.size() > 1) return absl::InvalidArgumentError("unexpected argument \"" + args[1] + "\" after " + first);
    parsed.command = first == "--version" ? "version" : first == "--help-markdown" ? "help-markdown" : "help";
    return parsed;
  }
  for (const CommandSpec& spec : Specs(parsed)) {
    if (spec.name != first) continue;
    parsed.command = first;
    std::vector<std::string> rest(args.begin() + 1, args.end());
    if (first == "job") SplitEntrypoint(rest, parsed.job);  // `-- COMMAND ARGS...`
    absl::Status st = ParseFlags(spec, rest, parsed.help);
    if (!st.ok()) return st;
    return parsed;
  }
  std::string known;
  for (const std::string& name : CommandNames()) known += (known.empty() ? "" : ", ") + name;
  return absl::InvalidArgumentError("unknown command \"" + first + "\" (expected one of: " + known + ")");
}

std::string Usage(const std::string& command) {
  ParsedArgs scratch;
  for (const CommandSpec& spec : Specs(scratch)) {
    if (spec.name == command) return UsageText(spec);
  }
  return Overview();
}

std::string ShortUsage(const std::string& command) {
  ParsedArgs scratch;
  for (const CommandSpec& spec : Specs(scratch)) {
    if (spec.name == command) return ShortUsageText(spec);
  }
  return Overview();
}

std::vector<std::string> CommandNames() {
  ParsedArgs scratch;
  std::vector<std::string> names;
  for (const CommandSpec& spec : Specs(scratch)) names.push_back(spec.name);
  return names;
}

std::string MarkdownFlagTables() {
  ParsedArgs scratch;
  std::string out;
  for (const CommandSpec& spec : Specs(scratch)) {
    if (!out.empty()) out += "\n";
    out += "### lumen " + spec.name + "\n\n" + MarkdownTable(spec);
  }
  return out;
}

absl::StatusOr<StartRequest> ToStartRequest(const ParsedArgs& args) {
  StartRequest request = args.start;
  deploy::NodeOptions& node = request.node;
  if (node.head == !node.gcs_address.empty()) {
    return absl::InvalidArgumentError(node.head ? "give either --head or --address, not both"
                                                : "`lumen start` needs --head (start a new cluster) or --address "
                                                  "HOST:PORT (join one)");
  }
  if (request.port_given && !node.head) {
    return absl::InvalidArgumentError("--port is for the head node (--head) only");
  }
  node.die_with_parent = request.block;
  node.include_dashboard = node.head && request.include_dashboard;
  return request;
}

}  // namespace lumen::cli
