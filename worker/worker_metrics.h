// worker/worker_metrics.h
//
// Metrics of one worker or driver process, sent to its local raylet, which
// exports them on its Prometheus endpoint (docs/metrics.md):
//  - TaskMetrics counts the tasks and actor calls this process submitted,
//    by function Name and State, as ray_tasks: PENDING while submitted and
//    not ended (waiting for arguments or a worker, or running), then
//    FINISHED or FAILED. Counted by the owner, not the executor: the owner sees the
//    final outcome of every task (a worker that died included), and a
//    driver sends its counts at shutdown, while workers are SIGKILLed when
//    their job ends;
//  - user metrics (ray/api/metric.h) live in the same process registry;
//  - MetricsReporter sends what changed about every second and at Stop():
//    counters, sums and histograms as increases since the last accepted
//    report, gauges as values.
// The process registry is process-wide (ProcessMetrics()): Ray's metric API
// lets user code create metrics anywhere, before or without ray::Init.
// Bounds: at most kMaxSeriesPerProcess series; what is refused beyond is
// counted and reported as dropped. LUMEN_TASK_METRICS=0 in the environment
// turns the task counts off (the user metrics still work).
// Threading: everything may be called from any thread. The reporter sends
// from its own thread with blocking calls; a raylet that answers
// UNIMPLEMENTED (no --metrics-export-port) ends the reporting.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "common/metrics.h"
#include "proto/raylet.grpc.pb.h"
#include "proto/worker.pb.h"
#include "common/rpc/client.h"

namespace lumen::worker {

inline constexpr size_t kMaxSeriesPerProcess = 1000;

struct ProcessMetricsState {
  metrics::Registry registry;
  std::atomic<size_t> series{0};
  std::atomic<uint64_t> dropped{0};  // Series refused over the cap.
};
ProcessMetricsState& ProcessMetrics();

// The cell of `labels` in `family`, created under the process cap; null
// (and counted as dropped) when the cap is reached.
metrics::Cell* CappedCell(metrics::Family& family, const metrics::Labels& labels);

// False when LUMEN_TASK_METRICS is "0" (read once).
bool TaskMetricsEnabled();

class TaskMetrics {
 public:
  explicit TaskMetrics(ProcessMetricsState& state = ProcessMetrics());
  // One task of function `name` was submitted (or submitted again to
  // rebuild a lost result): PENDING until Count.
  void Submitted(std::string_view name);
  // One task of function `name` ended (after its last retry).
  void Count(std::string_view name, bool failed);

 private:
  struct Cells {
    metrics::Cell* pending = nullptr;
    metrics::Cell* finished = nullptr;
    metrics::Cell* failed = nullptr;
  };
  Cells& CellsOf(std::string_view name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  metrics::Family* family_;
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, Cells> by_name_ ABSL_GUARDED_BY(mu_);
};

class MetricsReporter {
 public:
  using RayletClient = rpc::RpcClient<rpc::RayletService>;
  // `raylet` is not owned and must outlive the reporter.
  MetricsReporter(RayletClient& raylet, std::string worker_id,
                  std::chrono::milliseconds period = std::chrono::milliseconds(1000),
                  ProcessMetricsState& state = ProcessMetrics());
  ~MetricsReporter() { Stop(); }

  void Start();
  // Sends the last changes (bounded wait) and ends the thread. Idempotent.
  void Stop();

  // What changed since the last accepted report; Accept() records it as
  // sent. (One report at a time: the reporter's thread, or tests.)
  rpc::ReportMetricsRequest Diff();
  void Accept();

 private:
  struct Sent {
    double value = 0;
    std::vector<uint64_t> buckets;
  };
  void Loop();
  bool SendOnce(int64_t timeout_ms);  // False: stop reporting.

  RayletClient& raylet_;
  const std::string worker_id_;
  const std::chrono::milliseconds period_;
  ProcessMetricsState& state_;
  absl::flat_hash_map<std::string, Sent> sent_;     // By name + '\0' + labels.
  absl::flat_hash_map<std::string, Sent> pending_;  // Of the report in flight.
  uint64_t dropped_sent_ = 0;
  uint64_t dropped_pending_ = 0;
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // Guarded by mu_.
  bool disabled_ = false;  // Reporter thread only.
  std::thread thread_;
};

}  // namespace lumen::worker
