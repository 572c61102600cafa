// worker/runtime.h
//
// The process-wide Lumen runtime behind include/ray/api/runtime.h: one
// CoreWorker per process, plus the private local cluster a driver started.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace lumen::worker {

// Runs this process as a worker, configured by the LUMEN_* environment the
// raylet set (docs/workers.md), until told to exit; then exits the process.
[[noreturn]] void RunWorkerProcess();

// True when the raylet started this process as a worker.
bool IsWorkerProcess();

// For benchmarks and tests: the local raylet's "ip:port" and the cluster
// token of the initialized runtime (empty before ray::Init).
std::string LocalRayletAddress();
std::string ClusterToken();

// For benchmarks (bench/task_events_inrun.cc): pauses or resumes this
// process's task-event recording (no-op where LUMEN_TASK_EVENTS=0 at
// start), and sends what it has buffered now, on the calling thread. The
// workers' side is not switched: it keeps what it was started with.
void SetTaskEventRecording(bool on);
void FlushTaskEvents();
// Task events this process dropped so far (its buffers full).
int64_t TaskEventsDropped();

// For tests and leak checks: what the initialized runtime holds now.
struct RuntimeStats {
  size_t objects_in_store = 0;  // Values in the in-process store.
  size_t references = 0;        // Entries in the reference table.
  int64_t tasks_in_flight = 0;  // Submitted and not finished.
  size_t borrower_waits = 0;    // Borrowers' lookups waiting on this owner.
  std::string session_dir;      // The private cluster's (empty when joined).
  std::vector<int> daemon_pids; // The private cluster's daemons.
};
RuntimeStats GetRuntimeStats();

}  // namespace lumen::worker
