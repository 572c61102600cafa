// worker/runtime.h
//
// The process-wide Lumen runtime behind include/ray/api/runtime.h: one
// CoreWorker per process, plus the private local cluster a driver started.
#pragma once

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

}  // namespace lumen::worker
