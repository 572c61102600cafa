#include "deploy/cli/cli_flags.h"

#include <cmath>

#include "absl/strings/numbers.h"

namespace lumen::cli {
namespace {

struct CommandSpec {
  std::set<std::string> switches;
  std::set<std::string> values;
};

const std::map<std::string, CommandSpec>& Specs() {
  static const auto* specs = new std::map<std::string, CommandSpec>{
      {"start",
       {{"head", "block"},
        {"address", "port", "num-cpus", "num-gpus", "resources", "object-store-memory",
         "redis-address", "redis-password", "redis-password-file", "temp-dir", "node-ip-address", "token-file",
         "tls-cert", "tls-key", "tls-ca"}}},
      {"stop", {{"force"}, {"temp-dir"}}},
      {"status", {{}, {"address", "token-file", "temp-dir", "tls-cert", "tls-key", "tls-ca"}}},
      {"help", {{}, {}}},
  };
  return *specs;
}

std::string Normalize(std::string name) {
  for (char& c : name) {
    if (c == '_') c = '-';
  }
  return name;
}

absl::Status ParseSwitch(const std::string& name, bool has_value, const std::string& value,
                         ParsedArgs& parsed) {
  bool on = true;
  if (has_value && !absl::SimpleAtob(value, &on)) {
    return absl::InvalidArgumentError("--" + name + " takes no value (or true/false), got \"" +
                                      value + "\"");
  }
  if (on) parsed.switches.insert(name);
  else parsed.switches.erase(name);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args) {
  ParsedArgs parsed;
  if (args.empty()) {
    parsed.command = "help";
    return parsed;
  }
  size_t i = 0;
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "--version") {
    parsed.command = args[0] == "--version" ? "version" : "help";
    return parsed;
  }
  parsed.command = args[i++];
  auto spec = Specs().find(parsed.command);
  if (spec == Specs().end()) {
    return absl::InvalidArgumentError("unknown command \"" + parsed.command +
                                      "\" (expected start, stop or status)");
  }
  for (; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      parsed.help = true;
      continue;
    }
    if (arg.rfind("--", 0) != 0 || arg.size() == 2) {
      return absl::InvalidArgumentError("unexpected argument \"" + arg + "\" for `lumen " +
                                        parsed.command + "`");
    }
    const size_t eq = arg.find('=');
    const bool has_value = eq != std::string::npos;
    const std::string name = Normalize(arg.substr(2, has_value ? eq - 2 : std::string::npos));
    const std::string inline_value = has_value ? arg.substr(eq + 1) : "";
    if (spec->second.switches.count(name)) {
      if (absl::Status s = ParseSwitch(name, has_value, inline_value, parsed); !s.ok()) return s;
    } else if (spec->second.values.count(name)) {
      if (has_value) {
        parsed.values[name] = inline_value;
      } else if (i + 1 < args.size() && args[i + 1].rfind("--", 0) != 0) {
        parsed.values[name] = args[++i];
      } else {
        return absl::InvalidArgumentError("flag --" + name + " needs a value");
      }
    } else {
      return absl::InvalidArgumentError("unknown flag --" + name + " for `lumen " +
                                        parsed.command + "` (see `lumen " + parsed.command +
                                        " --help`)");
    }
  }
  return parsed;
}

namespace {

absl::Status ParseDouble(const ParsedArgs& args, const std::string& name,
                         std::optional<double>& out) {
  if (!args.values.count(name)) return absl::OkStatus();
  double value = 0;
  if (!absl::SimpleAtod(args.Value(name), &value) || !std::isfinite(value) || value < 0) {
    return absl::InvalidArgumentError("--" + name + " must be a non-negative number, got \"" +
                                      args.Value(name) + "\"");
  }
  out = value;
  return absl::OkStatus();
}

absl::Status ParseBytes(const ParsedArgs& args, const std::string& name,
                        std::optional<int64_t>& out) {
  if (!args.values.count(name)) return absl::OkStatus();
  int64_t bytes = 0;
  double approx = 0;
  if (absl::SimpleAtoi(args.Value(name), &bytes) && bytes > 0) {
    out = bytes;
  } else if (absl::SimpleAtod(args.Value(name), &approx) && approx >= 1 && approx < 9e18) {
    out = static_cast<int64_t>(approx);  // Accepts 2e9 like Ray does.
  } else {
    return absl::InvalidArgumentError("--" + name + " must be a positive number of bytes, got \"" +
                                      args.Value(name) + "\"");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<StartRequest> ToStartRequest(const ParsedArgs& args) {
  StartRequest request;
  deploy::NodeOptions& node = request.node;
  node.head = args.switches.count("head") > 0;
  node.gcs_address = args.Value("address");
  if (node.head == !node.gcs_address.empty()) {
    return absl::InvalidArgumentError(
        node.head ? "give either --head or --address, not both"
                  : "`lumen start` needs --head (start a new cluster) or --address HOST:PORT "
                    "(join one)");
  }
  if (args.values.count("port")) {
    if (!node.head) return absl::InvalidArgumentError("--port is for the head node (--head) only");
    if (!absl::SimpleAtoi(args.Value("port"), &node.port) || node.port < 0 || node.port > 65535) {
      return absl::InvalidArgumentError("--port must be 0..65535, got \"" + args.Value("port") +
                                        "\"");
    }
  }
  if (absl::Status s = ParseDouble(args, "num-cpus", node.num_cpus); !s.ok()) return s;
  if (absl::Status s = ParseDouble(args, "num-gpus", node.num_gpus); !s.ok()) return s;
  if (absl::Status s = ParseBytes(args, "object-store-memory", node.object_store_memory); !s.ok()) {
    return s;
  }
  node.resources_json = args.Value("resources");
  node.redis_address = args.Value("redis-address");
  node.redis_password = args.Value("redis-password");
  node.redis_password_file = args.Value("redis-password-file");
  node.temp_dir = args.Value("temp-dir");
  node.node_ip = args.Value("node-ip-address");
  node.token_file = args.Value("token-file");
  request.block = args.switches.count("block") > 0;
  node.die_with_parent = request.block;
  return request;
}

std::string Usage(const std::string& command) {
  if (command == "start") {
    return "usage: lumen start --head [--port 6379] [options]     start a new cluster here\n"
           "       lumen start --address HOST:PORT [options]      add this machine to a cluster\n"
           "options:\n"
           "  --num-cpus N               CPUs this node offers (default: detected, the cores\n"
           "                             this process may use)\n"
           "  --num-gpus N               GPUs this node offers (default: detected, from\n"
           "                             CUDA_VISIBLE_DEVICES or /dev/nvidia*)\n"
           "  --resources JSON           custom resources, e.g. '{\"special_hardware\": 1}'\n"
           "  --object-store-memory B    bytes for the shared-memory object store\n"
           "  --redis-address H:P        (head) keep GCS tables in Redis to survive GCS restarts\n"
           "  --redis-password-file F    (head) file holding that Redis's password (mode 0600)\n"
           "  --redis-password P         (head) the password itself: visible to every user in ps\n"
           "                             while `lumen start` runs; prefer the file or\n"
           "                             $LUMEN_REDIS_PASSWORD\n"
           "  --node-ip-address IP       address other nodes reach this one at (default 127.0.0.1)\n"
           "  --temp-dir DIR             sessions and logs (default $LUMEN_TEMP_DIR, else\n"
           "                             /tmp/lumen-<uid>)\n"
           "  --token-file F             cluster token file (default $LUMEN_TOKEN, ~/.lumen/token)\n"
           "  --tls-cert F --tls-key F --tls-ca F\n"
           "                             mutual TLS between all processes: this node's certificate\n"
           "                             (its IP in subjectAltName), its key (0600), the cluster CA\n"
           "                             (default $LUMEN_TLS_CERT, $LUMEN_TLS_KEY, $LUMEN_TLS_CA)\n"
           "  --block                    stay in the foreground; stop the node on SIGTERM/SIGINT\n";
  }
  if (command == "stop") {
    return "usage: lumen stop [--force] [--temp-dir DIR]\n"
           "  Stops every Lumen process of yours on this machine, whatever temp dir it\n"
           "  was started with (other users' processes are never touched).\n"
           "  --temp-dir DIR  only the sessions under DIR\n"
           "  --force   SIGKILL at once instead of SIGTERM and a 5 s grace period\n";
  }
  if (command == "status") {
    return "usage: lumen status [--address HOST:PORT] [--token-file F] [--temp-dir DIR]\n"
           "                    [--tls-cert F --tls-key F --tls-ca F]\n"
           "  Shows the cluster's nodes and resources. The address defaults to $RAY_ADDRESS,\n"
           "  then to the last head started on this machine. A TLS cluster needs the TLS\n"
           "  flags (or $LUMEN_TLS_CERT, $LUMEN_TLS_KEY, $LUMEN_TLS_CA).\n";
  }
  return "usage: lumen <command> [flags]\n"
         "commands:\n"
         "  start    start a head node (--head) or join a cluster (--address)\n"
         "  status   show nodes and resources of a cluster\n"
         "  stop     stop the Lumen processes of this machine\n"
         "Run `lumen <command> --help` for the flags of a command; `lumen --version`\n"
         "prints the version.\n";
}

}  // namespace lumen::cli
