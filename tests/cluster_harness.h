// tests/cluster_harness.h
//
// LocalCluster starts a Lumen cluster of a head and N worker nodes on this
// one machine, inside a Sandbox (tests/harness.h): every node is a real
// `lumen start` (its own raylet, plasma store, ports, sockets and session
// directory). Worker nodes may be given their own loopback address
// (127.0.0.2, 127.0.0.3 ... with --node-ip-address), so each node's
// `node:<ip>` resource differs and nothing can lean on 127.0.0.1.
// A node is named by its session directory, which its workers see as
// LUMEN_SESSION_DIR (tasks return it to say where they ran).
// Threading: the test's thread. Failure: Start/AddNode return false with
// `error` set (the CLI's output); the Sandbox stops everything at the end.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "tests/harness.h"

namespace lumen::testing {

struct ClusterNode {
  std::string ip;
  std::string session_dir;
  std::map<std::string, pid_t> pids;  // "raylet", "plasma", ("gcs" on the head).
};

class LocalCluster {
 public:
  explicit LocalCluster(Sandbox& sandbox) : sandbox_(sandbox) {}

  // `lumen start --head` with `args` added (e.g. --num-cpus 2).
  bool StartHead(const std::vector<std::string>& args);
  // `lumen start --address=<head>` on `ip` (empty: the default) with `args`.
  bool AddNode(const std::string& ip, const std::vector<std::string>& args);
  // Waits until `lumen status` shows `alive` alive nodes.
  bool WaitForAlive(int alive, int timeout_ms = 30000);

  const std::string& address() const { return address_; }
  const std::vector<ClusterNode>& nodes() const { return nodes_; }  // [0]: the head.
  // The index of the node whose session dir is `session_dir`; -1: none.
  int NodeOf(const std::string& session_dir) const;
  std::map<std::string, std::string> DriverEnv() const { return {{"RAY_ADDRESS", address_}}; }
  const std::string& error() const { return error_; }

 private:
  bool Start(std::vector<std::string> argv, const std::string& ip);

  Sandbox& sandbox_;
  std::string address_;
  std::vector<ClusterNode> nodes_;
  std::string error_;
};

// "key=value" lines of a driver's output: every value of `key`, in order.
std::vector<std::string> ValuesOf(const std::string& output, const std::string& key);

}  // namespace lumen::testing
