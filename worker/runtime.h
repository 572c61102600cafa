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

}  // namespace lumen::worker
