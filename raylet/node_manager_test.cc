// Unit tests of NodeManager: the RayletService semantics in plain C++ over
// a fake launcher and clock (drivers, worker registration, leases, blocked
// workers, deaths, job ends, stats, GPU indices).
#include "raylet/node_manager.h"

#include <catch2/catch.hpp>
#include <optional>

#include "raylet/node_manager_fixture.h"

using namespace lumen;
using namespace lumen::raylet;

using Fixture = testing::NodeFixture;

TEST_CASE("a driver registers, learns the node, and its workers are prestarted") {
  Fixture f(2, 2);
  REQUIRE(f.RegisterDriver().ok());
  CHECK(f.last_register_reply.node_id() == f.node_id.Binary());
  CHECK(f.last_register_reply.plasma_socket() == "/tmp/s/plasma.sock");
  CHECK(f.last_register_reply.session_dir() == "/tmp/s");
  CHECK(f.last_register_reply.node_ip() == "127.0.0.1");
  CHECK(f.last_register_reply.gcs_address() == "127.0.0.1:6379");
  CHECK(f.launcher.started.size() == 2);
  rpc::GetNodeStatsReply stats;
  f.node.GetNodeStats(&stats);
  CHECK(stats.num_workers() == 2);
  CHECK(stats.num_idle_workers() == 0);
  CHECK(stats.worker_pids_size() == 2);
  f.WorkersRegister();
  f.node.GetNodeStats(&stats);
  CHECK(stats.num_idle_workers() == 2);
}

TEST_CASE("a second driver with the same job id is refused, not merged into the job") {
  // A GCS restarted without Redis handed the id of a running job out again.
  Fixture f(2, 1);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  const WorkerId first = f.driver;
  f.driver = WorkerId::FromRandom();
  f.driver_pid = 78;
  absl::Status second = f.RegisterDriver();
  CHECK(absl::IsAlreadyExists(second));
  CHECK(second.message().find("already held by another driver (pid 77)") != std::string::npos);
  // The first driver's job is untouched: it still leases its own workers.
  auto lease = f.Lease(1, first);
  REQUIRE(lease->has_value());
  CHECK((*lease)->worker_address().worker_id().size() > 0);
  REQUIRE(f.pool->LiveJobs().size() == 1);
  CHECK(f.pool->LiveJobs()[0].driver_pid() == 77);
}

TEST_CASE("malformed registrations are refused") {
  Fixture f(1, 1);
  rpc::RegisterWorkerRequest request;
  request.set_worker_id("short");
  request.set_job_id(f.job.Binary());
  rpc::RegisterWorkerReply reply;
  CHECK(absl::IsInvalidArgument(f.node.RegisterWorker(request, &reply)));
  request.set_worker_id(WorkerId::FromRandom().Binary());
  request.set_job_id("");
  CHECK(absl::IsInvalidArgument(f.node.RegisterWorker(request, &reply)));
  request.set_job_id(f.job.Binary());
  CHECK(absl::IsNotFound(f.node.RegisterWorker(request, &reply)));  // Not started by us.
}

TEST_CASE("a granted lease names the worker's address, the lease and the pid") {
  Fixture f(1, 1);
  REQUIRE(f.RegisterDriver().ok());
  auto lease = f.Lease(1);
  CHECK_FALSE(lease->has_value());  // The prestarted worker has not registered yet.
  f.WorkersRegister();
  REQUIRE(lease->has_value());
  const auto& reply = **lease;
  CHECK_FALSE(reply.rejected());
  CHECK(reply.worker_address().ip() == "127.0.0.1");
  CHECK(reply.worker_address().node_id() == f.node_id.Binary());
  const WorkerInfo* worker = f.pool->Get(f.LeasedWorker(*lease));
  REQUIRE(worker != nullptr);
  CHECK(reply.worker_address().port() == worker->port);
  CHECK(reply.worker_pid() == worker->pid);
  CHECK(reply.lease_id() > 0);
  CHECK(f.AvailableCpu() == 0);
  f.Return(*lease);
  CHECK(f.AvailableCpu() == 1);
}

TEST_CASE("nested tasks three levels deep finish on a one-CPU node") {
  Fixture f(1, 1);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  auto level1 = f.Lease(1, f.driver);
  REQUIRE(level1->has_value());
  WorkerId w1 = f.LeasedWorker(*level1);
  auto level2 = f.Lease(1, w1);
  CHECK_FALSE(level2->has_value());
  f.node.NotifyBlocked(w1, true);  // Level 1 waits for level 2.
  f.WorkersRegister();
  REQUIRE(level2->has_value());
  WorkerId w2 = f.LeasedWorker(*level2);
  auto level3 = f.Lease(1, w2);
  f.node.NotifyBlocked(w2, true);
  f.WorkersRegister();
  REQUIRE(level3->has_value());
  CHECK_FALSE((*level3)->rejected());
  // Unwind.
  f.Return(*level3);
  f.node.NotifyBlocked(w2, false);
  f.Return(*level2);
  f.node.NotifyBlocked(w1, false);
  f.Return(*level1);
  CHECK(f.AvailableCpu() == 1);
  CHECK(f.pool->NumWorkers() == 3);
}

TEST_CASE("a worker's death releases its lease so the next request is granted") {
  Fixture f(1, 1);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  auto first = f.Lease(1);
  auto second = f.Lease(1);
  CHECK_FALSE(second->has_value());
  f.launcher.Exit((*first)->worker_pid(), "killed by signal 9 (SIGKILL)");
  f.node.ReapWorkers();
  CHECK(f.AvailableCpu() == 1);
  f.WorkersRegister();  // The replacement worker.
  REQUIRE(second->has_value());
  CHECK_FALSE((*second)->rejected());
}

TEST_CASE("a driver's disconnect kills the job's workers and rejects its queued leases") {
  Fixture f(1, 1);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  auto running = f.Lease(1);
  auto queued = f.Lease(1);
  f.node.DisconnectWorker(f.driver);
  REQUIRE(queued->has_value());
  CHECK((*queued)->rejected());
  CHECK(f.launcher.NumRunning() == 0);
  CHECK(f.pool->NumWorkers() == 0);
  CHECK(f.AvailableCpu() == 1);
  CHECK(f.node.View().num_pending_tasks() == 0);
  auto late = f.Lease(1);  // The job is gone here.
  REQUIRE(late->has_value());
  CHECK((*late)->rejected());
}

TEST_CASE("a driver whose process died finishes its job") {
  Fixture f(2, 2);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  f.node.CheckDrivers();
  CHECK(f.pool->NumWorkers() == 2);
  f.launcher.SetAlive(f.driver_pid, false);
  f.node.CheckDrivers();
  CHECK(f.pool->NumWorkers() == 0);
  CHECK(f.launcher.killed.size() == 2);
}

TEST_CASE("a worker's own disconnect forgets it; unknown ids are ignored") {
  Fixture f(1, 1);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  auto lease = f.Lease(1);
  f.node.DisconnectWorker(f.LeasedWorker(*lease));
  CHECK(f.pool->NumWorkers() == 0);
  CHECK(f.AvailableCpu() == 1);
  f.node.DisconnectWorker(WorkerId::FromRandom());
  f.node.NotifyBlocked(WorkerId::FromRandom(), true);
  f.Return(*lease);  // A late return of a dead worker's lease is harmless.
  CHECK(f.AvailableCpu() == 1);
}

TEST_CASE("the resource view lists every resource and the pending count") {
  Fixture f(1, 1);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  auto lease = f.Lease(1);
  auto queued = f.Lease(1);
  auto infeasible = f.Lease(8);
  rpc::ResourceView view = f.node.View();
  CHECK(view.node_id() == f.node_id.Binary());
  CHECK(view.total().at("CPU") == 1);
  CHECK(view.available().at("CPU") == 0);
  CHECK(view.num_pending_tasks() == 2);
  // By shape, for `lumen status`: one queued {CPU: 1}, one infeasible {CPU: 8}.
  REQUIRE(view.pending_demands_size() == 2);
  for (const auto& demand : view.pending_demands()) {
    CHECK(demand.count() == 1);
    CHECK(demand.infeasible() == (demand.shape().at("CPU") == 8));
  }
}

TEST_CASE("lease replies carry GPU indices; a return frees them for a queued lease") {
  Fixture f(4, 3, /*gpus=*/2);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  auto first = f.Lease(1, {}, 1);
  auto second = f.Lease(1, {}, 1);
  auto third = f.Lease(1, {}, 1);
  auto cpu_only = f.Lease(1);
  REQUIRE(first->has_value());
  REQUIRE(second->has_value());
  REQUIRE(cpu_only->has_value());
  CHECK(f.GpuIds(*first) == std::vector<int>{0});
  CHECK(f.GpuIds(*second) == std::vector<int>{1});
  CHECK((*cpu_only)->gpu_ids_size() == 0);
  CHECK_FALSE(third->has_value());
  f.Return(*first);
  REQUIRE(third->has_value());
  CHECK(f.GpuIds(*third) == std::vector<int>{0});
}

TEST_CASE("a GPU worker's death frees its indices") {
  Fixture f(2, 1, /*gpus=*/1);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  auto first = f.Lease(1, {}, 1);
  auto second = f.Lease(1, {}, 1);
  REQUIRE(first->has_value());
  CHECK(f.GpuIds(*first) == std::vector<int>{0});
  CHECK_FALSE(second->has_value());
  f.launcher.Exit((*first)->worker_pid(), "killed by signal 9 (SIGKILL)");
  f.node.ReapWorkers();
  CHECK(f.leases.gpus().NumFree() == 1);
  f.WorkersRegister();
  REQUIRE(second->has_value());
  CHECK(f.GpuIds(*second) == std::vector<int>{0});
}

TEST_CASE("a driver's disconnect frees the GPU indices of its job's leases") {
  Fixture f(2, 2, /*gpus=*/2);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  auto lease = f.Lease(1, {}, 2);
  REQUIRE(lease->has_value());
  CHECK(f.GpuIds(*lease) == (std::vector<int>{0, 1}));
  f.node.NotifyBlocked(f.LeasedWorker(*lease), true);
  CHECK(f.leases.gpus().NumFree() == 0);  // Blocking lends only the CPU.
  f.node.DisconnectWorker(f.driver);
  CHECK(f.leases.gpus().NumFree() == 2);
  CHECK(f.node.View().available().at("GPU") == 2);
}
