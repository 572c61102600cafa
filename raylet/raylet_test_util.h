// raylet/raylet_test_util.h
//
// Shared set-up for the raylet unit tests: a WorkerPool over a fake
// launcher and a fake clock, one job with a registered driver, and helpers
// that play the part of worker processes (register the workers the pool
// started). Test-only; one test thread.
#pragma once

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

#include "common/clock.h"
#include "raylet/fake_process_launcher.h"
#include "raylet/worker_pool.h"

namespace lumen::raylet::testing {

inline WorkerPoolOptions TestPoolOptions(int prestart) {
  WorkerPoolOptions options;
  options.lumen_worker_path = "/opt/lumen/bin/lumen-worker";
  options.raylet_address = "127.0.0.1:7000";
  options.gcs_address = "127.0.0.1:6379";
  options.node_ip = "127.0.0.1";
  options.node_id_hex = "00ab";
  options.token = "test-token";
  options.session_dir = "/tmp/lumen-test-session";
  options.plasma_socket = "/tmp/lumen-test-session/sockets/plasma.sock";
  options.num_prestart_workers = prestart;
  options.max_starting_workers = 4;
  options.register_timeout_ms = 30000;
  options.idle_timeout_ms = 10000;
  return options;
}

struct PoolFixture {
  explicit PoolFixture(int prestart = 0, WorkerPoolOptions options = {}) {
    if (options.raylet_address.empty()) options = TestPoolOptions(prestart);
    pool = std::make_unique<WorkerPool>(launcher, clock, options);
  }

  rpc::JobInfo MakeJob(const JobId& id) const {
    rpc::JobInfo info;
    info.set_job_id(id.Binary());
    info.set_driver_executable("/home/user/my_driver");
    return info;
  }
  void AddJob(const JobId& id, const WorkerId& driver_id, pid_t driver_pid) {
    REQUIRE(pool->RegisterDriver(driver_id, driver_pid, MakeJob(id)).ok());
  }

  // The worker id the pool gave a started process (its LUMEN_WORKER_ID).
  WorkerId IdOf(pid_t pid) const {
    return WorkerId::FromHex(launcher.started.at(pid).env.at("LUMEN_WORKER_ID")).value();
  }
  JobId JobOf(pid_t pid) const {
    return JobId::FromHex(launcher.started.at(pid).env.at("LUMEN_JOB_ID")).value();
  }
  // Registers every started process that still runs and has not registered.
  std::vector<WorkerId> RegisterStarted() {
    std::vector<WorkerId> registered;
    for (const auto& [pid, options] : launcher.started) {
      WorkerId id = IdOf(pid);
      const WorkerInfo* worker = pool->Get(id);
      if (!launcher.IsRunning(pid) || !worker || worker->state != WorkerState::kStarting) continue;
      REQUIRE(pool->RegisterWorker(id, JobOf(pid), pid, 20000 + pid).ok());
      registered.push_back(id);
    }
    return registered;
  }

  FakeProcessLauncher launcher;
  FakeClock clock;
  std::unique_ptr<WorkerPool> pool;
  JobId job = JobId::FromInt(1);
  WorkerId driver = WorkerId::FromRandom();
  pid_t driver_pid = 77;
};

}  // namespace lumen::raylet::testing
