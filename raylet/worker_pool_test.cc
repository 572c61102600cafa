// Unit tests of WorkerPool over a fake launcher and clock: the worker start
// contract, registration, idle/leased transitions, timeouts, deaths, jobs.
#include <signal.h>

#include <catch2/catch.hpp>

#include "raylet/raylet_test_util.h"

using namespace lumen;
using namespace lumen::raylet;
using lumen::raylet::testing::PoolFixture;

TEST_CASE("a driver's registration prestarts workers with the start contract") {
  PoolFixture f(/*prestart=*/2);
  f.AddJob(f.job, f.driver, f.driver_pid);
  REQUIRE(f.launcher.started.size() == 2);
  const ProcessOptions& p = f.launcher.started.begin()->second;
  pid_t pid = f.launcher.started.begin()->first;
  CHECK(p.argv == std::vector<std::string>{"/home/user/my_driver"});
  CHECK(p.new_process_group);
  CHECK(p.die_with_parent);
  WorkerId id = f.IdOf(pid);
  CHECK(p.log_file == "/tmp/lumen-test-session/logs/worker-" + id.Hex() + ".out");
  std::map<std::string, std::string> expected = {
      {"LUMEN_WORKER_MODE", "1"},
      {"LUMEN_RAYLET_ADDRESS", "127.0.0.1:7000"},
      {"LUMEN_GCS_ADDRESS", "127.0.0.1:6379"},
      {"LUMEN_JOB_ID", f.job.Hex()},
      {"LUMEN_WORKER_ID", id.Hex()},
      {"LUMEN_NODE_IP", "127.0.0.1"},
      {"LUMEN_NODE_ID", "00ab"},
      {"LUMEN_TOKEN", "test-token"},
      {"LUMEN_CODE_SEARCH_PATH", ""},
      {"LUMEN_SESSION_DIR", "/tmp/lumen-test-session"},
      {"LUMEN_PLASMA_SOCKET", "/tmp/lumen-test-session/sockets/plasma.sock"},
      {"LUMEN_WORKER_PORTS", ""},  // No worker port range: any free port.
  };
  CHECK(p.env == expected);
  CHECK(f.pool->NumStarting() == 2);
  CHECK(f.pool->NumIdle() == 0);
  // A retried driver registration starts nothing more.
  f.AddJob(f.job, f.driver, f.driver_pid);
  CHECK(f.launcher.started.size() == 2);
}

TEST_CASE("jobs with a code search path run lumen-worker") {
  PoolFixture f(1);
  rpc::JobInfo info = f.MakeJob(f.job);
  info.add_code_search_path("/srv/lib");
  info.add_code_search_path("/srv/more");
  REQUIRE(f.pool->RegisterDriver(f.driver, f.driver_pid, info).ok());
  REQUIRE(f.launcher.started.size() == 1);
  const ProcessOptions& p = f.launcher.started.begin()->second;
  CHECK(p.argv == std::vector<std::string>{"/opt/lumen/bin/lumen-worker"});
  CHECK(p.env.at("LUMEN_CODE_SEARCH_PATH") == "/srv/lib:/srv/more");
}

TEST_CASE("registered workers become idle and are leased most-recent first") {
  PoolFixture f(2);
  f.AddJob(f.job, f.driver, f.driver_pid);
  auto ids = f.RegisterStarted();
  REQUIRE(ids.size() == 2);
  CHECK(f.pool->NumIdle() == 2);
  const WorkerInfo* first = f.pool->PopIdle(f.job);
  REQUIRE(first != nullptr);
  CHECK(first->id == ids[1]);
  CHECK(first->state == WorkerState::kLeased);
  CHECK(f.pool->PopIdle(f.job)->id == ids[0]);
  CHECK(f.pool->PopIdle(f.job) == nullptr);
  f.pool->PushIdle(ids[0]);
  CHECK(f.pool->NumIdle() == 1);
  CHECK(f.pool->PopIdle(JobId::FromInt(9)) == nullptr);
}

TEST_CASE("registration finds a worker by pid and refuses strangers") {
  PoolFixture f(1);
  f.AddJob(f.job, f.driver, f.driver_pid);
  pid_t pid = f.launcher.started.begin()->first;
  auto made_up = WorkerId::FromRandom();
  auto worker = f.pool->RegisterWorker(made_up, f.job, pid, 1234);
  REQUIRE(worker.ok());
  CHECK((*worker)->port == 1234);
  CHECK(absl::IsNotFound(f.pool->RegisterWorker(WorkerId::FromRandom(), f.job, 4242, 1).status()));
  CHECK(absl::IsNotFound(f.pool->RegisterWorker(f.IdOf(pid), JobId::FromInt(5), pid, 1).status()));
}

TEST_CASE("workers that do not register in time are killed") {
  PoolFixture f(1);
  f.AddJob(f.job, f.driver, f.driver_pid);
  pid_t pid = f.launcher.started.begin()->first;
  f.clock.AdvanceMs(29999);
  f.pool->Maintain();
  CHECK(f.launcher.killed.empty());
  f.clock.AdvanceMs(1);
  f.pool->Maintain();
  REQUIRE_FALSE(f.launcher.killed.empty());
  CHECK(f.launcher.killed[0] == std::make_pair(pid, SIGKILL));
  CHECK(f.pool->Get(f.IdOf(pid)) == nullptr);
}

TEST_CASE("idle workers beyond the prestart count expire") {
  PoolFixture f(1);
  f.AddJob(f.job, f.driver, f.driver_pid);
  REQUIRE(f.pool->EnsureStarting(f.job, 3).ok());
  CHECK(f.launcher.started.size() == 3);
  f.RegisterStarted();
  CHECK(f.pool->NumIdle() == 3);
  f.clock.AdvanceMs(9999);
  f.pool->Maintain();
  CHECK(f.pool->NumWorkers() == 3);
  f.clock.AdvanceMs(1);
  f.pool->Maintain();
  CHECK(f.pool->NumWorkers() == 1);  // The prestarted one stays.
  CHECK(f.launcher.killed.size() == 2);
}

TEST_CASE("a leased worker's death is reported with its cause and the prestart is topped up") {
  PoolFixture f(1);
  f.AddJob(f.job, f.driver, f.driver_pid);
  f.RegisterStarted();
  const WorkerInfo* worker = f.pool->PopIdle(f.job);
  WorkerId id = worker->id;
  f.launcher.Exit(worker->pid, "killed by signal 11 (Segmentation fault)");
  auto dead = f.pool->ReapExited();
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].id == id);
  CHECK(dead[0].was_registered);
  CHECK(dead[0].cause == "killed by signal 11 (Segmentation fault)");
  CHECK(f.pool->Get(id) == nullptr);
  CHECK(f.pool->NumWorkers() == 0);
  f.pool->Maintain();
  CHECK(f.pool->NumStarting() == 1);
}

TEST_CASE("repeated start failures suspend starts for a while") {
  PoolFixture f(0);
  f.AddJob(f.job, f.driver, f.driver_pid);
  for (int i = 0; i < 3; ++i) {
    REQUIRE(f.pool->EnsureStarting(f.job, 1).ok());
    pid_t pid = f.launcher.started.rbegin()->first;
    f.launcher.Exit(pid, "exited with status 127");
    auto dead = f.pool->ReapExited();
    REQUIRE(dead.size() == 1);
    CHECK_FALSE(dead[0].was_registered);
  }
  absl::Status st = f.pool->EnsureStarting(f.job, 1);
  CHECK(absl::IsFailedPrecondition(st));
  CHECK(st.message().find("exited before registering (exited with status 127)") !=
        std::string::npos);
  f.clock.AdvanceMs(10000);
  CHECK(f.pool->EnsureStarting(f.job, 1).ok());  // Tries again after the backoff.
}

TEST_CASE("a missing executable is an immediate error") {
  PoolFixture f(0);
  f.AddJob(f.job, f.driver, f.driver_pid);
  f.launcher.FailStarts(absl::NotFoundError("cannot execute /home/user/my_driver"));
  absl::Status st = f.pool->EnsureStarting(f.job, 1);
  CHECK(absl::IsNotFound(st));
  CHECK(st.message().find("cannot start a worker for job") != std::string::npos);
}

TEST_CASE("concurrent starts are capped for the node") {
  PoolFixture f(0);
  f.AddJob(f.job, f.driver, f.driver_pid);
  REQUIRE(f.pool->EnsureStarting(f.job, 10).ok());
  CHECK(f.pool->NumStarting() == 4);
  f.RegisterStarted();
  REQUIRE(f.pool->EnsureStarting(f.job, 10).ok());
  CHECK(f.pool->NumStarting() == 4);
  CHECK(f.pool->NumWorkers() == 8);
}

TEST_CASE("finishing a job kills its workers' process groups and forgets the job") {
  PoolFixture f(2);
  f.AddJob(f.job, f.driver, f.driver_pid);
  JobId other = JobId::FromInt(2);
  f.AddJob(other, WorkerId::FromRandom(), 78);
  f.RegisterStarted();
  CHECK(f.pool->JobOfDriver(f.driver) == f.job);
  auto killed = f.pool->FinishJob(f.job, {}, "its driver exited");
  CHECK(killed.size() == 2);
  CHECK(f.launcher.killed.size() == 2);
  for (const auto& [pid, sig] : f.launcher.killed) CHECK(sig == SIGKILL);
  CHECK_FALSE(f.pool->HasJob(f.job));
  CHECK(f.pool->HasJob(other));
  CHECK(f.pool->NumWorkers() == 2);
  CHECK(f.pool->ReapExited().empty());  // Their exits are not news.
}

TEST_CASE("finishing a job spares the kept workers; the job stays, driverless, for them") {
  PoolFixture f(2);
  f.AddJob(f.job, f.driver, f.driver_pid);
  f.RegisterStarted();
  std::vector<DeadWorker> gone;
  f.pool->set_on_worker_gone([&](const DeadWorker& dead) { gone.push_back(dead); });
  const WorkerInfo* actor_worker = f.pool->PopIdle(f.job);
  REQUIRE(actor_worker != nullptr);
  const WorkerId kept = actor_worker->id;
  ActorId actor = ActorId::Of(f.job);
  f.pool->Dedicate(kept, actor, /*detached=*/true);
  CHECK(f.pool->DetachedWorkers(f.job) == std::vector<WorkerId>{kept});
  f.pool->PushIdle(kept);  // Dedicated: never idle again.
  CHECK(f.pool->Get(kept)->state == WorkerState::kLeased);

  auto killed = f.pool->FinishJob(f.job, {kept}, "its driver exited");
  CHECK(killed.size() == 1);
  REQUIRE(gone.size() == 1);
  CHECK(gone[0].cause == "killed by the raylet: its driver exited");
  CHECK(gone[0].actor.IsNil());
  CHECK(f.pool->HasJob(f.job));
  CHECK(f.pool->LiveJobs().empty());  // No driver here any more.
  CHECK_FALSE(f.pool->JobOfDriver(f.driver).has_value());
  f.pool->Maintain();
  CHECK(f.pool->NumWorkers() == 1);  // Nothing prestarted without a driver.
  CHECK(f.pool->EmptyDriverlessJobs().empty());

  f.launcher.Exit(f.pool->Get(kept)->pid, "exited with status 0");
  auto dead = f.pool->ReapExited();
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].actor == actor);
  REQUIRE(gone.size() == 2);
  CHECK(gone[1].actor == actor);
  CHECK(gone[1].cause == "exited with status 0");
  CHECK(f.pool->EmptyDriverlessJobs() == std::vector<JobId>{f.job});
  f.pool->KillAll();  // Shutdown kills are not announced.
  CHECK(gone.size() == 2);
}

TEST_CASE("exit causes are worded as the GCS reports them") {
  CHECK(DescribeWaitStatus(3 << 8) == "exited with status 3");
  CHECK(DescribeWaitStatus(SIGKILL) == "killed by signal 9 (SIGKILL)");
  CHECK(DescribeWaitStatus(SIGSEGV) == "killed by signal 11 (SIGSEGV)");
}

TEST_CASE("jobs whose driver process vanished are found") {
  PoolFixture f(0);
  f.AddJob(f.job, f.driver, f.driver_pid);
  CHECK(f.pool->FindJobsWithDeadDrivers().empty());
  f.launcher.SetAlive(f.driver_pid, false);
  CHECK(f.pool->FindJobsWithDeadDrivers() == std::vector<JobId>{f.job});
}
