// raylet/node_manager_fixture.h
//
// NodeFixture: a NodeManager over a real WorkerPool and LeaseManager with a
// fake launcher, a fake clock and a fake GCS client, plus helpers that play
// drivers, workers and the GCS (lease requests, returns, registrations).
// Test-only; one test thread.
#pragma once

#include <catch2/catch.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "raylet/fake_gcs_client.h"
#include "raylet/gcs_reporter.h"
#include "raylet/node_manager.h"
#include "raylet/raylet_test_util.h"

namespace lumen::raylet::testing {

struct NodeFixture : PoolFixture {
  explicit NodeFixture(double cpus, int prestart, double gpus = 0)
      : PoolFixture(prestart),
        leases(*pool,
               ResourceSet::FromMap(std::map<std::string, double>{{"CPU", cpus}, {"GPU", gpus}})),
        node(NodeManagerConfig{node_id, "127.0.0.1", "/tmp/s/plasma.sock", "/tmp/s",
                               "127.0.0.1:6379"},
             *pool, leases, reporter) {}

  absl::Status RegisterDriver() {
    rpc::RegisterWorkerRequest request;
    request.set_is_driver(true);
    request.set_worker_id(driver.Binary());
    request.set_job_id(job.Binary());
    request.set_pid(driver_pid);
    request.mutable_job()->set_driver_executable("/home/user/my_driver");
    rpc::RegisterWorkerReply reply;
    absl::Status st = node.RegisterWorker(request, &reply);
    last_register_reply = reply;
    return st;
  }
  // Plays the started workers of the fixture's job: each calls RegisterWorker.
  void WorkersRegister() { JobWorkersRegister(job); }
  std::shared_ptr<std::optional<rpc::RequestWorkerLeaseReply>> Lease(double cpus,
                                                                     WorkerId caller = {},
                                                                     double gpus = 0) {
    auto slot = std::make_shared<std::optional<rpc::RequestWorkerLeaseReply>>();
    rpc::RequestWorkerLeaseRequest request;
    request.set_job_id(job.Binary());
    (*request.mutable_resources())["CPU"] = cpus;
    if (gpus > 0) (*request.mutable_resources())["GPU"] = gpus;
    request.set_function_name("Fib");
    if (!caller.IsNil()) request.set_caller_worker_id(caller.Binary());
    node.RequestWorkerLease(request, nullptr,
                            [slot](const rpc::RequestWorkerLeaseReply& reply) { *slot = reply; });
    return slot;
  }
  WorkerId LeasedWorker(const std::optional<rpc::RequestWorkerLeaseReply>& reply) {
    return WorkerId::FromBinaryOrNil(reply->worker_address().worker_id());
  }
  void Return(const std::optional<rpc::RequestWorkerLeaseReply>& reply, bool exiting = false) {
    rpc::ReturnWorkerRequest request;
    request.set_lease_id(reply->lease_id());
    request.set_worker_exiting(exiting);
    node.ReturnWorker(request);
  }
  double AvailableCpu() { return node.View().available().at("CPU"); }
  static std::vector<int> GpuIds(const std::optional<rpc::RequestWorkerLeaseReply>& reply) {
    return {reply->gpu_ids().begin(), reply->gpu_ids().end()};
  }

  // An actor lease, as the GCS asks for it: no caller, no resources by
  // default, the job's JobInfo attached.
  std::shared_ptr<std::optional<rpc::RequestWorkerLeaseReply>> LeaseForActor(
      const ActorId& actor, bool detached = false, std::optional<JobId> for_job = std::nullopt,
      double cpus = 0) {
    auto slot = std::make_shared<std::optional<rpc::RequestWorkerLeaseReply>>();
    JobId the_job = for_job.value_or(job);
    rpc::RequestWorkerLeaseRequest request;
    request.set_job_id(the_job.Binary());
    if (cpus > 0) (*request.mutable_resources())["CPU"] = cpus;
    request.set_function_name("Counter");
    request.set_actor_id(actor.Binary());
    request.set_detached(detached);
    request.mutable_job()->set_job_id(the_job.Binary());
    request.mutable_job()->set_driver_executable("/home/user/other_driver");
    node.RequestWorkerLease(request, nullptr,
                            [slot](const rpc::RequestWorkerLeaseReply& reply) { *slot = reply; });
    return slot;
  }
  // Registers the started workers of `for_job`; only those started so far:
  // workers that their registrations cause to start register at the next call.
  void JobWorkersRegister(const JobId& for_job) {
    std::vector<pid_t> started;
    for (const auto& [pid, options] : launcher.started) started.push_back(pid);
    for (pid_t pid : started) {
      const WorkerInfo* worker = pool->Get(IdOf(pid));
      if (!launcher.IsRunning(pid) || !worker || worker->state != WorkerState::kStarting ||
          worker->job != for_job) {
        continue;
      }
      rpc::RegisterWorkerRequest request;
      request.set_worker_id(IdOf(pid).Binary());
      request.set_job_id(for_job.Binary());
      request.set_pid(pid);
      request.set_port(30000 + pid);
      rpc::RegisterWorkerReply reply;
      REQUIRE(node.RegisterWorker(request, &reply).ok());
    }
  }

  NodeId node_id = NodeId::FromRandom();
  LeaseManager leases;
  FakeGcsClient gcs;
  GcsReporter reporter{gcs, clock};
  NodeManager node;
  rpc::RegisterWorkerReply last_register_reply;
};


}  // namespace lumen::raylet::testing
