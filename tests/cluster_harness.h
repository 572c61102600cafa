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
//
// With UseNetworkNamespaces() every node started afterwards, the head
// included, lives in a Linux network namespace of its own
// (`lumen-t<test pid>-<i>`) with one veth whose other end is on a bridge in
// a further namespace (`lumen-t<test pid>-br`), and its own address
// 10.<x>.<y>.<i+1>/24 (x, y from the test pid). Nothing of it is reachable
// from the root namespace, so the CLI (status) and drivers run in the
// head's namespace: InHead() prefixes a command with `ip netns exec`.
// The namespaces go in the destructor (the bridge and veths with them; a
// namespace outlives its name only while the Sandbox's processes, which it
// kills, are inside) and leftovers of test processes that died are removed
// before new ones are made. docs/testing.md has more.
//
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
  std::string netns;  // Its network namespace; "" without UseNetworkNamespaces().
  std::string session_dir;
  std::map<std::string, pid_t> pids;  // "raylet", "plasma", ("gcs" on the head).
};

// AddNode's `ip` for a namespaced node started without --node-ip-address.
inline constexpr char kDetectedIp[] = "detected";

class LocalCluster {
 public:
  explicit LocalCluster(Sandbox& sandbox) : sandbox_(sandbox) {}
  ~LocalCluster();
  LocalCluster(const LocalCluster&) = delete;
  LocalCluster& operator=(const LocalCluster&) = delete;

  // Makes the bridge namespace; from now on each StartHead/AddNode gets a
  // namespace and address of its own (AddNode's `ip` must then be empty:
  // `--node-ip-address=<its address>` is passed; or kDetectedIp: none is,
  // and the node must find its address itself).
  // False, with `error` saying why, where namespaces cannot be created (not
  // root, no CAP_NET_ADMIN, no iproute2): the test is to be skipped.
  bool UseNetworkNamespaces();
  bool namespaced() const { return !bridge_ns_.empty(); }
  // `argv` run in the head's network namespace (unchanged without namespaces).
  std::vector<std::string> InHead(std::vector<std::string> argv) const;
  // The lumen CLI run with `args` where it reaches the head.
  CommandResult Cli(const std::vector<std::string>& args, int timeout_ms = 60000);

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
  // Makes namespace `nodes_.size()` with its veth on the bridge: its name
  // and address, or false with `error_` set.
  bool AddNamespace(std::string& ns, std::string& ip);
  // `ip` with `args` (run in the sandbox); false with `error_` set.
  bool Ip(const std::vector<std::string>& args);

  Sandbox& sandbox_;
  std::string address_;
  std::vector<ClusterNode> nodes_;
  std::string error_;
  std::string ip_;                  // iproute2's `ip`, with namespaces.
  std::string setup_error_;         // The bridge could not be made.
  std::string bridge_ns_;           // "" until UseNetworkNamespaces().
  std::string subnet_;              // "10.x.y." in that case.
  std::vector<std::string> netns_;  // Every namespace made, the bridge's first.
};

// "key=value" lines of a driver's output: every value of `key`, in order.
std::vector<std::string> ValuesOf(const std::string& output, const std::string& key);

}  // namespace lumen::testing
