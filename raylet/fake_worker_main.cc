// lumen-raylet-fake-worker: a stand-in worker for raylet_process_test. It
// follows the worker start contract (docs/raylet.md) as far as the raylet
// can see: reads LUMEN_* from the environment, calls RegisterWorker with
// its id, job and pid (port 1: nobody calls it), then sleeps until killed.
// Exits 2 when the registration fails.
#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "common/id.h"
#include "common/rpc/client.h"
#include "proto/raylet.grpc.pb.h"

int main() {
  const char* raylet = std::getenv("LUMEN_RAYLET_ADDRESS");
  const char* token = std::getenv("LUMEN_TOKEN");
  const char* worker = std::getenv("LUMEN_WORKER_ID");
  const char* job = std::getenv("LUMEN_JOB_ID");
  if (!raylet || !token || !worker || !job || !std::getenv("LUMEN_WORKER_MODE")) {
    std::cerr << "fake worker: missing LUMEN_* environment" << std::endl;
    return 2;
  }
  lumen::rpc::RpcClient<lumen::rpc::RayletService> client(raylet, token);
  lumen::rpc::RegisterWorkerRequest request;
  request.set_worker_id(lumen::WorkerId::FromHex(worker).value().Binary());
  request.set_job_id(lumen::JobId::FromHex(job).value().Binary());
  request.set_pid(::getpid());
  request.set_port(1);
  auto reply = client.CallSync(&lumen::rpc::RayletService::Stub::RegisterWorker, request, 5000);
  if (!reply.ok()) {
    std::cerr << "fake worker: RegisterWorker: " << reply.status() << std::endl;
    return 2;
  }
  std::cout << "fake worker " << worker << " registered on node " << reply->node_ip() << std::endl;
  while (true) ::pause();
}
