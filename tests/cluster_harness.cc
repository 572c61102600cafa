#include "tests/cluster_harness.h"

#include <algorithm>
#include <sstream>

namespace lumen::testing {

bool LocalCluster::Start(std::vector<std::string> argv, const std::string& ip) {
  // Small stores: several nodes share this machine's memory (unless asked).
  if (std::find(argv.begin(), argv.end(), "--object-store-memory") == argv.end()) {
    argv.insert(argv.end(), {"--object-store-memory", "67108864"});
  }
  if (!ip.empty()) argv.push_back("--node-ip-address=" + ip);
  CommandResult started = sandbox_.Lumen(argv);
  if (started.exit_code != 0) {
    error_ = started.Describe();
    return false;
  }
  ClusterNode node;
  node.ip = ip.empty() ? "127.0.0.1" : ip;
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
  address_ = "127.0.0.1:" + port;
  return Start(argv, "");
}

bool LocalCluster::AddNode(const std::string& ip, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"start", "--address=" + address_};
  argv.insert(argv.end(), args.begin(), args.end());
  return Start(argv, ip);
}

bool LocalCluster::WaitForAlive(int alive, int timeout_ms) {
  const std::string wanted = "Nodes: " + std::to_string(alive) + " alive";
  return WaitUntil(
      [&] { return sandbox_.Lumen({"status", "--address", address_}).out.find(wanted) != std::string::npos; },
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
