// raylet/worker_ports.h
//
// WorkerPortAllocator hands the ports of the node's worker port range
// (--min-worker-port/--max-worker-port, common/worker_ports.h) to the
// workers the raylet starts, two each, and takes them back once the worker's
// process has exited (not when it is killed: a dying process may still hold
// them). A port is handed out only after `probe` says nothing else holds it;
// the search goes round the range from after the last port handed out, so a
// port just given back is the last to be reused. Without a range (both 0) it
// is disabled and every worker gets {0, 0}: any free port.
// Threading: the raylet loop only. No I/O but the probe.
#pragma once

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "common/worker_ports.h"

namespace lumen::raylet {

class WorkerPortAllocator {
 public:
  // true when nothing (of ours or others) listens on the port.
  using Probe = std::function<bool(int port)>;

  // The range must satisfy CheckWorkerPortRange.
  WorkerPortAllocator(int min_port, int max_port, Probe probe);

  bool enabled() const { return min_port_ != 0; }
  // Two ports of the range, neither handed out nor held by others; nullopt
  // when the range has no two such ports. {0, 0} when disabled.
  std::optional<WorkerPorts> Take();
  // The process `pid` started with `ports` (from Take): they are its until
  // ReleaseOf(pid).
  void Assign(pid_t pid, const WorkerPorts& ports);
  // Ports from Take whose process never started.
  void GiveBack(const WorkerPorts& ports);
  // The process `pid` has exited: its ports are free again.
  void ReleaseOf(pid_t pid);

  int num_held() const { return static_cast<int>(held_.size()); }
  // "20000-20009", for messages.
  std::string RangeText() const;

 private:
  std::optional<int> NextFree(int skip);

  int min_port_;
  int max_port_;
  Probe probe_;
  int next_;  // Where the next search starts.
  absl::flat_hash_set<int> held_;
  absl::flat_hash_map<pid_t, WorkerPorts> by_pid_;
};

}  // namespace lumen::raylet
