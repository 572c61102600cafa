#include "tests/cluster_harness.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace lumen::testing {
namespace {

constexpr char kNetnsPrefix[] = "lumen-t";

// iproute2's `ip`, or "" when it is not installed.
std::string IpBinary() {
  for (const char* path : {"/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

// Removes the namespaces `lumen-t<pid>-*` of test processes that died
// without their destructors (SIGKILL, a ctest timeout); the Sandbox has
// already killed the processes that were inside them.
void RemoveNamespacesOfDeadTests(Sandbox& sandbox, const std::string& ip) {
  std::istringstream list(sandbox.Run({ip, "netns", "list"}).out);
  for (std::string line; std::getline(list, line);) {
    const std::string name = line.substr(0, line.find(' '));
    if (name.rfind(kNetnsPrefix, 0) != 0) continue;
    const pid_t owner = std::atoi(name.c_str() + sizeof(kNetnsPrefix) - 1);
    if (owner > 1 && owner != ::getpid() && !IsRunning(owner)) sandbox.Run({ip, "netns", "del", name});
  }
}

}  // namespace

LocalCluster::~LocalCluster() {
  for (auto ns = netns_.rbegin(); ns != netns_.rend(); ++ns) sandbox_.Run({ip_, "netns", "del", *ns});
}

bool LocalCluster::Ip(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {ip_};
  argv.insert(argv.end(), args.begin(), args.end());
  CommandResult result = sandbox_.Run(argv);
  if (result.exit_code == 0) return true;
  std::string command;
  for (const auto& arg : argv) command += (command.empty() ? "" : " ") + arg;
  error_ = "`" + command + "` failed: " + result.Describe();
  return false;
}

bool LocalCluster::UseNetworkNamespaces() {
  if (!nodes_.empty() || namespaced()) {
    error_ = "UseNetworkNamespaces() must come first, and once";
    return false;
  }
  ip_ = IpBinary();
  if (ip_.empty()) {
    error_ = "iproute2 (`ip`) is not installed";
    return false;
  }
  RemoveNamespacesOfDeadTests(sandbox_, ip_);
  const pid_t pid = ::getpid();
  // 10.100.0.0-10.249.255.0: a /24 of its own for each concurrent test.
  subnet_ = "10." + std::to_string(100 + (pid >> 8) % 150) + "." + std::to_string(pid & 255) + ".";
  const std::string bridge = kNetnsPrefix + std::to_string(pid) + "-br";
  if (!Ip({"netns", "add", bridge})) return false;  // Not root, no CAP_NET_ADMIN: skip.
  netns_.push_back(bridge);
  bridge_ns_ = bridge;
  if (!Ip({"-n", bridge, "link", "add", "br0", "type", "bridge"}) ||
      !Ip({"-n", bridge, "link", "set", "br0", "up"})) {
    setup_error_ = error_;  // Namespaces work, so this is a failure, not a skip.
  }
  return true;
}

bool LocalCluster::AddNamespace(std::string& ns, std::string& ip) {
  const std::string index = std::to_string(netns_.size());  // 1 for the first node: the bridge is 0.
  ns = kNetnsPrefix + std::to_string(::getpid()) + "-" + index;
  ip = subnet_ + index;
  const std::string veth = "v" + index;
  if (!Ip({"netns", "add", ns})) return false;
  netns_.push_back(ns);
  return Ip({"-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", veth, "netns", bridge_ns_}) &&
         Ip({"-n", bridge_ns_, "link", "set", veth, "master", "br0"}) &&
         Ip({"-n", bridge_ns_, "link", "set", veth, "up"}) &&
         Ip({"-n", ns, "addr", "add", ip + "/24", "dev", "eth0"}) &&
         Ip({"-n", ns, "link", "set", "eth0", "up"}) && Ip({"-n", ns, "link", "set", "lo", "up"});
}

std::vector<std::string> LocalCluster::InHead(std::vector<std::string> argv) const {
  if (!namespaced() || nodes_.empty()) return argv;
  argv.insert(argv.begin(), {ip_, "netns", "exec", nodes_[0].netns});
  return argv;
}

CommandResult LocalCluster::Cli(const std::vector<std::string>& args, int timeout_ms) {
  if (!namespaced()) return sandbox_.Lumen(args, {}, timeout_ms);
  std::vector<std::string> argv = {Sandbox::BinDir() + "/lumen"};
  argv.insert(argv.end(), args.begin(), args.end());
  return sandbox_.Run(InHead(argv), {}, timeout_ms);
}

bool LocalCluster::Start(std::vector<std::string> argv, const std::string& ip) {
  // Small stores: several nodes share this machine's memory (unless asked).
  if (std::find(argv.begin(), argv.end(), "--object-store-memory") == argv.end()) {
    argv.insert(argv.end(), {"--object-store-memory", "67108864"});
  }
  ClusterNode node;
  node.ip = ip.empty() ? "127.0.0.1" : ip;
  CommandResult started;
  if (namespaced()) {
    if (!setup_error_.empty() || (!ip.empty() && ip != kDetectedIp)) {
      error_ = ip.empty() ? setup_error_ : "a node in a namespace gets its address from the harness";
      return false;
    }
    if (!AddNamespace(node.netns, node.ip)) return false;
    if (ip != kDetectedIp) argv.push_back("--node-ip-address=" + node.ip);
    argv.insert(argv.begin(), {ip_, "netns", "exec", node.netns, Sandbox::BinDir() + "/lumen"});
    started = sandbox_.Run(argv);
  } else {
    if (!ip.empty()) argv.push_back("--node-ip-address=" + ip);
    started = sandbox_.Lumen(argv);
  }
  if (started.exit_code != 0) {
    error_ = started.Describe();
    return false;
  }
  node.session_dir = Sandbox::SessionDirFromOutput(started.out);
  node.pids = sandbox_.SessionPids(node.session_dir);
  nodes_.push_back(std::move(node));
  return true;
}

bool LocalCluster::StartHead(const std::vector<std::string>& args) {
  const std::string port = std::to_string(Sandbox::FreePort());
  // No dashboard: not needed here, and one process less on a shared machine.
  std::vector<std::string> argv = {"start", "--head", "--port", port, "--include-dashboard=false"};
  argv.insert(argv.end(), args.begin(), args.end());
  if (!Start(argv, "")) return false;
  address_ = nodes_.back().ip + ":" + port;
  return true;
}

bool LocalCluster::AddNode(const std::string& ip, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"start", "--address=" + address_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Start(argv, ip);
}

bool LocalCluster::WaitForAlive(int alive, int timeout_ms) {
  const std::string wanted = "Nodes: " + std::to_string(alive) + " alive";
  return WaitUntil(
      [&] { return Cli({"status", "--address", address_}).out.find(wanted) != std::string::npos; },
      timeout_ms, 200);
}

int LocalCluster::NodeOf(const std::string& session_dir) const {
  for (size_t i = 0; i < nodes_.size(); ++i) {
    if (nodes_[i].session_dir == session_dir) return static_cast<int>(i);
  }
  return -1;
}

std::vector<std::string> ValuesOf(const std::string& output, const std::string& key) {
  std::vector<std::string> values;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) values.push_back(line.substr(key.size() + 1));
  }
  return values;
}

}  // namespace lumen::testing
