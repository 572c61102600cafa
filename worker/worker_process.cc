// The worker main loop: a process the raylet started serves tasks until
// the raylet or its driver asks it to exit (docs/workers.md).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "common/logging.h"
#include "common/paths.h"
#include "worker/runtime.h"
#include "worker/runtime_state.h"

namespace lumen::worker {

void RunWorkerProcess() {
  InitLogging("lumen-worker");
  CoreWorkerOptions options;
  options.is_driver = false;
  options.job_id = JobId::FromHex(Env("LUMEN_JOB_ID")).value_or(JobId::Nil());
  options.worker_id = WorkerId::FromHex(Env("LUMEN_WORKER_ID")).value_or(WorkerId::FromRandom());
  options.node_id = NodeId::FromHex(Env("LUMEN_NODE_ID")).value_or(NodeId::Nil());
  options.gcs_address = Env("LUMEN_GCS_ADDRESS");
  options.raylet_address = Env("LUMEN_RAYLET_ADDRESS");
  options.node_ip = Env("LUMEN_NODE_IP").empty() ? DefaultNodeIp() : Env("LUMEN_NODE_IP");
  options.token = Env("LUMEN_TOKEN");
  auto core = CoreWorker::Start(options);
  if (!core.ok()) {
    LOG(ERROR) << "worker failed to start: " << core.status();
    std::_Exit(1);
  }
  auto* rt = new Runtime();
  rt->core = std::move(*core);
  g_runtime = rt;
  // Forward our output to the job's driver.
  rpc::GetJobRequest get_job;
  get_job.set_job_id(options.job_id.Binary());
  auto job = rt->core->gcs().CallSync(&rpc::GcsService::Stub::GetJob, get_job, 10000);
  if (job.ok() && job->found() && job->job().driver_address().port() != 0) {
    const auto& d = job->job().driver_address();
    auto driver = std::make_shared<CoreWorkerClient>(d.ip() + ":" + std::to_string(d.port()), options.token);
    std::string log_path = Env("LUMEN_SESSION_DIR") + "/logs/worker-" + options.worker_id.Hex() + "-" +
                           std::to_string(::getpid()) + ".out";
    TaskExecutor* executor = rt->core->executor();
    auto logs = LogForwarder::Start(
        log_path, [executor] { return executor->CurrentLogPrefix(); },
        [driver](std::vector<rpc::LogLine>&& lines) {
          rpc::PushLogsRequest request;
          for (auto& l : lines) *request.add_lines() = std::move(l);
          (void)driver->CallSync(&rpc::CoreWorkerService::Stub::PushLogs, request, 5000);
        });
    if (logs.ok()) rt->logs = std::move(*logs);
  }
  LogForwarder* logs = rt->logs.get();
  // The store gone under a task: the node is failing; end like a worker
  // whose raylet died (PDEATHSIG), so the caller retries the task.
  rt->core->executor()->SetStoreLostHandler([logs](const absl::Status& status) {
    LOG(ERROR) << "the node's object store went away while a task stored its result (" << status
               << "): exiting; the caller retries the task";
    if (logs) logs->Drain(1000);
    std::fflush(stdout);
    std::_Exit(1);
  });
  rt->core->executor()->Start([logs] {
    if (logs) logs->Drain(1000);
  });
  rt->core->WaitForExit();
  std::fflush(stdout);
  std::_Exit(0);
}

}  // namespace lumen::worker
