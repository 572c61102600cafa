// worker/runtime_state.h
//
// The process-wide runtime behind include/ray/api/runtime.h, shared by the
// API entry points (runtime.cc), driver start-up and shutdown (driver.cc)
// and the worker main loop (worker_process.cc). Internal to the library.
// Threading: g_mu guards start-up and shutdown; g_runtime is read without
// it by API calls made between ray::Init and ray::Shutdown.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "deploy/launcher.h"
#include "worker/core_worker.h"
#include "worker/log_forwarder.h"

namespace ray {
class RayConfig;
}

namespace lumen::worker {

struct Runtime {
  std::unique_ptr<deploy::StartedNode> local_cluster;  // Drivers with a private cluster.
  std::unique_ptr<CoreWorker> core;
  std::unique_ptr<LogForwarder> logs;                  // Workers.
  std::string raylet_address;
  std::string token;
};

extern std::mutex g_mu;
extern Runtime* g_runtime;

std::string Env(const char* name);

// Applies Ray's C++ driver flags in argv (--ray_address=, --ray_namespace=,
// --ray_code_search_path=, --ray_redis_password=) to `config`.
void ApplyArgv(ray::RayConfig& config, int argc, char** argv);

// Driver start-up: joins the cluster the config or RAY_ADDRESS names, or
// starts a private one that shares this process's fate. Throws RayException.
std::unique_ptr<Runtime> StartDriver(ray::RayConfig& config, int argc, char** argv);
// Stops the driver's CoreWorker, then its private cluster (if any), whose
// session directory is removed unless LUMEN_KEEP_SESSION_DIR=1.
void StopDriver(std::unique_ptr<Runtime> runtime);

}  // namespace lumen::worker
