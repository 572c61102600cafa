// Unit tests of NodeManager's actor leases (docs/raylet.md, "Actor
// leases"): dedicated workers, jobs known only from a lease's JobInfo,
// driver death sparing detached actors, and what the GCS is told (job ends,
// actor worker deaths with their cause), over a fake launcher, clock and
// GCS client.
#include <catch2/catch.hpp>
#include <set>

#include "raylet/node_manager_fixture.h"

using namespace lumen;
using namespace lumen::raylet;

using Fixture = testing::NodeFixture;

namespace {

using Reply = std::shared_ptr<std::optional<rpc::RequestWorkerLeaseReply>>;

bool Granted(const Reply& reply) { return reply->has_value() && !(*reply)->rejected(); }

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("an actor's lease gets a dedicated worker that its return kills") {
  Fixture f(2, 1);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  const WorkerId prestarted = f.pool->Get(f.IdOf(f.launcher.started.begin()->first))->id;
  ActorId actor = ActorId::Of(f.job);
  Reply lease = f.LeaseForActor(actor);
  REQUIRE(Granted(lease));
  const WorkerId worker = f.LeasedWorker(*lease);
  CHECK(worker == prestarted);  // The idle prestarted worker is used first.
  CHECK(f.AvailableCpu() == 2);  // A zero-resource lease holds nothing.
  // The actor's worker is not part of the pool: the prestart count is topped up.
  f.node.Maintain();
  CHECK(f.launcher.started.size() == 2);
  f.WorkersRegister();

  f.Return(*lease);  // Not marked exiting: an actor's worker dies anyway.
  CHECK(f.pool->Get(worker) == nullptr);
  const pid_t pid = (*lease)->worker_pid();
  CHECK(std::count(f.launcher.killed.begin(), f.launcher.killed.end(),
                   std::make_pair(pid, SIGKILL)) == 1);
  REQUIRE(f.gcs.worker_failures.size() == 1);
  const rpc::ReportWorkerFailureRequest& report = f.gcs.worker_failures[0];
  CHECK(report.worker_id() == worker.Binary());
  CHECK(report.actor_id() == actor.Binary());
  CHECK(report.node_id() == f.node_id.Binary());
  CHECK(report.pid() == pid);
  CHECK(report.cause() == "killed by the raylet: its actor's lease was returned");

  // A task lease never gets the actor's worker back.
  Reply task = f.Lease(1, f.driver);
  REQUIRE(Granted(task));
  CHECK(f.LeasedWorker(*task) != worker);
  f.Return(*task);
  CHECK(f.gcs.worker_failures.size() == 1);  // Task workers are not reported.
}

TEST_CASE("a repeated actor lease request is the same request") {
  Fixture f(2, 0);
  REQUIRE(f.RegisterDriver().ok());
  ActorId actor = ActorId::Of(f.job);
  rpc::RequestWorkerLeaseRequest request;
  request.set_job_id(f.job.Binary());
  request.set_actor_id(actor.Binary());
  request.set_request_id(5);
  std::vector<rpc::RequestWorkerLeaseReply> replies;
  auto record = [&](const rpc::RequestWorkerLeaseReply& reply) { replies.push_back(reply); };
  f.node.RequestWorkerLease(request, nullptr, record);
  f.node.RequestWorkerLease(request, nullptr, record);  // The first reply was "lost".
  REQUIRE(replies.size() == 1);
  CHECK(replies[0].error() == "superseded by a repeat of the same lease request");
  f.WorkersRegister();
  REQUIRE(replies.size() == 2);
  CHECK_FALSE(replies[1].rejected());
  f.node.RequestWorkerLease(request, nullptr, record);  // Granted: the same grant again.
  REQUIRE(replies.size() == 3);
  CHECK(replies[2].lease_id() == replies[1].lease_id());
  CHECK(f.pool->NumWorkers() == 1);
}

TEST_CASE("a caller's death revokes its task leases but never an actor's lease") {
  Fixture f(4, 2);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  ActorId actor = ActorId::Of(f.job);
  Reply actor_lease = f.LeaseForActor(actor);
  REQUIRE(Granted(actor_lease));
  const WorkerId actor_worker = f.LeasedWorker(*actor_lease);
  // The actor's worker leases a task worker; a task worker leases another.
  Reply task = f.Lease(1, actor_worker);
  REQUIRE(Granted(task));
  const WorkerId task_worker = f.LeasedWorker(*task);
  Reply nested = f.Lease(1, task_worker);
  f.node.Maintain();
  f.WorkersRegister();
  REQUIRE(Granted(nested));
  const WorkerId nested_worker = f.LeasedWorker(*nested);

  f.launcher.Exit((*task)->worker_pid(), "killed by signal 9 (SIGKILL)");
  f.node.ReapWorkers();
  CHECK(f.pool->Get(nested_worker) == nullptr);  // Its caller is gone: revoked.
  CHECK(f.pool->Get(actor_worker) != nullptr);   // The actor's lease has no caller.
  CHECK(f.pool->Get(actor_worker)->state == WorkerState::kLeased);
  CHECK(f.gcs.worker_failures.empty());

  // The actor's worker dies: what it leased goes with it, and the GCS hears.
  Reply task2 = f.Lease(1, actor_worker);
  f.WorkersRegister();
  REQUIRE(Granted(task2));
  f.launcher.Exit((*actor_lease)->worker_pid(), "killed by signal 9 (SIGKILL)");
  f.node.ReapWorkers();
  CHECK(f.pool->Get(f.LeasedWorker(*task2)) == nullptr);
  REQUIRE(f.gcs.worker_failures.size() == 1);
  CHECK(f.gcs.worker_failures[0].cause() == "killed by signal 9 (SIGKILL)");
  CHECK(f.gcs.worker_failures[0].actor_id() == actor.Binary());
  CHECK(f.gcs.worker_failures[0].pid() == (*actor_lease)->worker_pid());
}

TEST_CASE("a job without a driver here starts its workers from the lease's JobInfo") {
  Fixture f(2, 2);
  JobId remote_job = JobId::FromInt(9);
  ActorId actor = ActorId::Of(remote_job);

  SECTION("a request without JobInfo for an unknown job is still rejected") {
    Reply plain = f.Lease(0);
    REQUIRE(plain->has_value());
    CHECK((*plain)->rejected());
    CHECK(Contains((*plain)->error(), "not known to this raylet"));
  }
  SECTION("a JobInfo naming another job is refused") {
    rpc::RequestWorkerLeaseRequest request;
    request.set_job_id(remote_job.Binary());
    request.set_actor_id(actor.Binary());
    request.mutable_job()->set_job_id(JobId::FromInt(10).Binary());
    request.mutable_job()->set_driver_executable("/bin/x");
    std::optional<rpc::RequestWorkerLeaseReply> reply;
    f.node.RequestWorkerLease(request, nullptr, [&](const auto& r) { reply = r; });
    REQUIRE(reply.has_value());
    CHECK(reply->rejected());
    CHECK(Contains(reply->error(), "JobInfo names job " + JobId::FromInt(10).Hex() + ", not job " +
                                       remote_job.Hex()));
    CHECK(f.launcher.started.empty());
  }
  SECTION("the actor gets a worker; the job has no prestarted workers") {
    Reply lease = f.LeaseForActor(actor, false, remote_job);
    REQUIRE(f.launcher.started.size() == 1);  // Just the one asked for.
    const ProcessOptions& started = f.launcher.started.begin()->second;
    CHECK(started.argv == std::vector<std::string>{"/home/user/other_driver"});
    CHECK(started.env.at("LUMEN_JOB_ID") == remote_job.Hex());
    f.JobWorkersRegister(remote_job);
    REQUIRE(Granted(lease));
    const WorkerId actor_worker = f.LeasedWorker(*lease);
    f.node.Maintain();
    CHECK(f.launcher.started.size() == 1);  // Nothing prestarted for it.

    // The actor's worker runs tasks of its job (its requests carry no JobInfo).
    rpc::RequestWorkerLeaseRequest request;
    request.set_job_id(remote_job.Binary());
    (*request.mutable_resources())["CPU"] = 1;
    request.set_caller_worker_id(actor_worker.Binary());
    std::optional<rpc::RequestWorkerLeaseReply> task_reply;
    f.node.RequestWorkerLease(request, nullptr, [&](const auto& r) { task_reply = r; });
    f.JobWorkersRegister(remote_job);
    REQUIRE(task_reply.has_value());
    REQUIRE_FALSE(task_reply->rejected());
    // Returned, the task worker idles, then dies after the idle timeout.
    rpc::ReturnWorkerRequest give_back;
    give_back.set_lease_id(task_reply->lease_id());
    f.node.ReturnWorker(give_back);
    CHECK(f.pool->NumIdle() == 1);
    f.clock.AdvanceMs(10000);
    f.node.Maintain();
    CHECK(f.pool->NumIdle() == 0);
    CHECK(f.pool->HasJob(remote_job));  // The actor still runs.
    f.node.DisconnectWorker(WorkerId::Nil());  // Names no driver, even of a driverless job.
    CHECK(f.pool->Get(actor_worker) != nullptr);

    // The actor's lease ends: its worker dies and the job is forgotten.
    f.Return(*lease);
    CHECK(f.pool->NumWorkers() == 0);
    f.node.Maintain();
    CHECK_FALSE(f.pool->HasJob(remote_job));
  }
}

TEST_CASE("a driver's death kills its job's workers but not a detached actor's") {
  Fixture f(4, 2);
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  ActorId regular = ActorId::Of(f.job);
  ActorId detached = ActorId::Of(f.job);
  Reply regular_lease = f.LeaseForActor(regular);
  Reply detached_lease = f.LeaseForActor(detached, /*detached=*/true);
  REQUIRE(Granted(regular_lease));
  REQUIRE(Granted(detached_lease));
  const WorkerId detached_worker = f.LeasedWorker(*detached_lease);
  // The detached actor runs a task; the driver runs one; both queue more.
  Reply detached_task = f.Lease(1, detached_worker);
  Reply driver_task = f.Lease(1, f.driver);
  f.WorkersRegister();
  REQUIRE(Granted(detached_task));
  REQUIRE(Granted(driver_task));
  Reply detached_queued = f.Lease(4, detached_worker);
  Reply driver_queued = f.Lease(4, f.driver);
  CHECK_FALSE(detached_queued->has_value());

  SECTION("the driver process vanishes") {
    f.launcher.SetAlive(f.driver_pid, false);
    f.node.CheckDrivers();
  }
  SECTION("the driver disconnects") { f.node.DisconnectWorker(f.driver); }

  CHECK(f.pool->Get(f.LeasedWorker(*regular_lease)) == nullptr);
  CHECK(f.pool->Get(f.LeasedWorker(*driver_task)) == nullptr);
  REQUIRE(driver_queued->has_value());
  CHECK((*driver_queued)->rejected());
  // The detached actor, the task it leased and its queued request stay.
  CHECK(f.pool->Get(detached_worker) != nullptr);
  CHECK(f.pool->Get(f.LeasedWorker(*detached_task)) != nullptr);
  CHECK_FALSE(detached_queued->has_value());
  CHECK(f.pool->NumWorkers() == 2);
  CHECK(f.launcher.NumRunning() == 2);

  // The GCS hears of the job's end first, then of the regular actor's death.
  REQUIRE(f.gcs.finished_jobs == std::vector<JobId>{f.job});
  CHECK(f.gcs.worker_failures.empty());
  f.gcs.AnswerNext(absl::OkStatus());
  REQUIRE(f.gcs.worker_failures.size() == 1);
  CHECK(f.gcs.worker_failures[0].actor_id() == regular.Binary());
  CHECK(f.gcs.worker_failures[0].cause() ==
        "killed by the raylet: job " + f.job.Hex() + " finished: its driver " +
            (f.launcher.IsAlive(f.driver_pid) ? "disconnected" : "exited"));

  // The detached actor keeps leasing workers of its job.
  f.Return(*detached_task);
  REQUIRE(Granted(detached_queued));
  // A late lease for a new regular actor of the finished job is refused.
  f.node.Maintain();
  Reply late = f.LeaseForActor(ActorId::Of(f.job));
  REQUIRE(late->has_value());
  CHECK((*late)->rejected());
}

TEST_CASE("a late actor lease of a job whose driver exited here starts nothing") {
  Fixture f(2, 1);
  REQUIRE(f.RegisterDriver().ok());
  f.node.DisconnectWorker(f.driver);
  REQUIRE(f.gcs.finished_jobs.size() == 1);
  const size_t started = f.launcher.started.size();
  Reply late = f.LeaseForActor(ActorId::Of(f.job));
  REQUIRE(late->has_value());
  CHECK((*late)->rejected());
  CHECK(Contains((*late)->error(), "finished: its driver exited"));
  CHECK(f.launcher.started.size() == started);
  // A detached actor of that job may still be placed here.
  Reply detached = f.LeaseForActor(ActorId::Of(f.job), /*detached=*/true);
  CHECK(f.launcher.started.size() == started + 1);
}

TEST_CASE("N zero-resource actor leases get N distinct workers, idle ones first") {
  Fixture f(2, 2);  // max_starting_workers is 4 (TestPoolOptions).
  REQUIRE(f.RegisterDriver().ok());
  f.WorkersRegister();
  constexpr int kActors = 11;
  std::vector<Reply> leases;
  for (int i = 0; i < kActors; ++i) leases.push_back(f.LeaseForActor(ActorId::Of(f.job)));
  CHECK(Granted(leases[0]));  // The two prestarted workers, at once.
  CHECK(Granted(leases[1]));
  CHECK_FALSE(leases[2]->has_value());
  int rounds = 0;
  while (std::count_if(leases.begin(), leases.end(), Granted) < kActors && rounds++ < 20) {
    CHECK(f.pool->NumStarting() <= 4);
    CHECK(f.pool->NumStarting() ==
          std::min<int>(4, kActors - std::count_if(leases.begin(), leases.end(), Granted)));
    f.WorkersRegister();
  }
  std::set<WorkerId> workers;
  for (const Reply& lease : leases) {
    REQUIRE(Granted(lease));
    workers.insert(f.LeasedWorker(*lease));
  }
  CHECK(workers.size() == kActors);
  CHECK(f.launcher.started.size() == kActors);  // No start wasted.
  CHECK(rounds == 3);                           // 9 starts, 4 at a time.
  CHECK(f.AvailableCpu() == 2);
}
