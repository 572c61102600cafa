// ActorManager wired into GcsState as in the daemon, with a FakeActorRpc
// standing in for raylets and workers: every lease, return and creation
// push is answered by hand, so each step of an actor's life is checked.
#include "gcs/actor_manager.h"

#include <catch2/catch.hpp>

#include "gcs/actor_test_util.h"
#include "gcs/gcs_state.h"
#include "gcs/node_manager.h"
#include "gcs/store/in_memory_store_client.h"
#include "gcs/tables.h"
#include "gcs/test_util.h"

using namespace lumen;
using namespace lumen::gcs;
using lumen::gcs::testing::FakeActorRpc;
using lumen::gcs::testing::FakeProber;
using lumen::gcs::testing::MakeNode;
using State = rpc::ActorInfo;

namespace {

struct Gcs {
  explicit Gcs(StoreClient& store) : state(store, clock, prober, HealthCheckOptions{}, rpc) {
    REQUIRE(state.Load().ok());
    state.actors.Tick();
  }

  rpc::NodeInfo AddNode(double cpus = 4) {
    rpc::NodeInfo node = MakeNode(7000, cpus);
    REQUIRE(state.nodes.Register(node).ok());
    return node;
  }
  std::string AddJob(const std::string& ns = "default") {
    rpc::JobInfo job;
    job.set_namespace_(ns);
    auto id = state.jobs.AddJob(job);
    REQUIRE(id.ok());
    return id->Binary();
  }
  const rpc::ActorInfo& Info(const std::string& id) {
    const rpc::ActorInfo* info = state.actors.Find(id);
    REQUIRE(info != nullptr);
    return *info;
  }
  // Registers `actor` and answers its lease and creation: ALIVE.
  std::string CreateAlive(const rpc::ActorInfo& actor) {
    REQUIRE(state.actors.Register(actor).ok());
    rpc.GrantNext();
    rpc.AnswerNextPush();
    REQUIRE(Info(actor.actor_id()).state() == State::ALIVE);
    return actor.actor_id();
  }
  absl::Status ReportDeath(const std::string& actor_id, const std::string& worker_id,
                           int pid = 4242) {
    rpc::ReportWorkerFailureRequest report;
    report.set_actor_id(actor_id);
    report.set_worker_id(worker_id);
    report.set_pid(pid);
    report.set_cause("killed by signal 9 (SIGKILL)");
    return state.actors.OnWorkerFailure(report);
  }

  FakeClock clock{0};
  FakeProber prober;
  FakeActorRpc rpc;
  GcsState state;
};

// The usual start: a GCS with one node and one running job.
struct OneNode {
  InMemoryStoreClient store;
  Gcs gcs{store};
  rpc::NodeInfo node = gcs.AddNode();
  std::string job = gcs.AddJob();
};

rpc::ActorInfo MakeActor(const std::string& job_id, const std::string& name = "",
                         int max_restarts = 0, bool detached = false) {
  rpc::ActorInfo actor;
  actor.set_actor_id(ActorId::Of(JobId::FromBinaryOrNil(job_id)).Binary());
  actor.set_job_id(job_id);
  actor.set_name(name);
  actor.set_ray_namespace(name.empty() ? "" : "ns");
  actor.set_max_restarts(max_restarts);
  actor.set_detached(detached);
  actor.set_class_name("Counter");
  actor.mutable_creation_spec()->set_function_name("Counter::Create");
  actor.mutable_creation_spec()->set_job_id(job_id);
  return actor;
}

rpc::ErrorInfo Thrown(const std::string& message) {
  rpc::ErrorInfo error;
  error.set_type(rpc::ErrorInfo::TASK_EXCEPTION);
  error.set_message(message);
  error.set_exception_type("std::runtime_error");
  return error;
}

}  // namespace

TEST_CASE("an actor is leased a worker, created, and alive") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  const rpc::NodeInfo& node = cluster.node;
  InMemoryStoreClient& store = cluster.store;
  auto actor = MakeActor(job, "", 0, /*detached=*/true);
  (*actor.mutable_creation_spec()->mutable_required_resources())["CPU"] = 1;
  REQUIRE(gcs.state.actors.Register(actor).ok());
  CHECK(gcs.Info(actor.actor_id()).state() == State::PENDING);

  REQUIRE(gcs.rpc.leases.size() == 1);
  const auto& lease = gcs.rpc.leases.front();
  CHECK(lease.node.node_id() == node.node_id());
  CHECK(lease.request.actor_id() == actor.actor_id());
  CHECK(lease.request.detached());
  CHECK(lease.request.caller_worker_id().empty());
  CHECK(lease.request.job().job_id() == job);
  CHECK(lease.request.resources().at("CPU") == 1);
  std::string worker = gcs.rpc.GrantNext(/*pid=*/777);

  REQUIRE(gcs.rpc.pushes.size() == 1);
  const auto& push = gcs.rpc.pushes.front();
  CHECK(push.spec.actor_creation());
  CHECK(push.spec.actor_id() == actor.actor_id());
  CHECK(push.spec.function_name() == "Counter::Create");
  CHECK(push.spec.num_restarts() == 0);
  CHECK(push.worker.worker_id() == worker);
  CHECK(gcs.Info(actor.actor_id()).state() == State::PENDING);
  gcs.rpc.AnswerNextPush();

  const auto& info = gcs.Info(actor.actor_id());
  CHECK(info.state() == State::ALIVE);
  CHECK(info.pid() == 777);
  CHECK(info.address().worker_id() == worker);
  CHECK(info.address().node_id() == node.node_id());
  CHECK(info.lease_id() == 1);
  CHECK(info.version() == 3);  // Registered, leased, alive.
  auto saved = store.Get(kActorTable, IdHex(actor.actor_id()));
  REQUIRE(saved.ok());
  REQUIRE(saved->has_value());
  rpc::ActorInfo stored;
  REQUIRE(stored.ParseFromString(**saved));
  CHECK(stored.state() == State::ALIVE);
  CHECK(stored.version() == 3);
}

TEST_CASE("actor names are unique per namespace among live actors") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  auto first = MakeActor(job, "counter");
  REQUIRE(gcs.state.actors.Register(first).ok());

  auto clash = gcs.state.actors.Register(MakeActor(job, "counter"));
  CHECK(absl::IsAlreadyExists(clash));
  CHECK(clash.message() == "actor name 'counter' is already taken in namespace 'ns'");

  auto elsewhere = MakeActor(job, "counter");
  elsewhere.set_ray_namespace("other");
  CHECK(gcs.state.actors.Register(elsewhere).ok());

  // A retried registration of a known id is OK and changes nothing.
  size_t leases = gcs.rpc.leases.size();
  int64_t version = gcs.Info(first.actor_id()).version();
  CHECK(gcs.state.actors.Register(first).ok());
  CHECK(gcs.rpc.leases.size() == leases);
  CHECK(gcs.Info(first.actor_id()).version() == version);

  SECTION("the name is free again once its actor is dead") {
    REQUIRE(gcs.state.actors.Kill(first.actor_id(), true, "").ok());
    auto second = MakeActor(job, "counter");
    REQUIRE(gcs.state.actors.Register(second).ok());
    rpc::GetActorInfoRequest by_name;
    by_name.set_name("counter");
    by_name.set_ray_namespace("ns");
    std::string found;
    REQUIRE(gcs.state.actors.GetInfo(by_name, [&](const rpc::ActorInfo* info) {
      REQUIRE(info != nullptr);
      found = info->actor_id();
    }).ok());
    CHECK(found == second.actor_id());
  }
}

TEST_CASE("bad registrations are refused with a clear error") {
  InMemoryStoreClient store;
  Gcs gcs(store);
  auto job = gcs.AddJob();
  auto actor = MakeActor(job);

  auto bad_id = actor;
  bad_id.set_actor_id("short");
  CHECK(absl::IsInvalidArgument(gcs.state.actors.Register(bad_id)));
  auto unknown_job = MakeActor(JobId::FromInt(99).Binary());
  auto st = gcs.state.actors.Register(unknown_job);
  CHECK(absl::IsNotFound(st));
  CHECK(st.message() == "job 99 is not known to the GCS");
  auto bad_restarts = actor;
  bad_restarts.set_max_restarts(-2);
  CHECK(absl::IsInvalidArgument(gcs.state.actors.Register(bad_restarts)));
  auto no_factory = actor;
  no_factory.mutable_creation_spec()->clear_function_name();
  CHECK(absl::IsInvalidArgument(gcs.state.actors.Register(no_factory)));
  CHECK(absl::IsNotFound(gcs.state.actors.Kill(actor.actor_id(), true, "")));
  CHECK(absl::IsInvalidArgument(gcs.state.actors.Kill("x", true, "")));
  CHECK(absl::IsInvalidArgument(
      gcs.state.actors.GetInfo(rpc::GetActorInfoRequest(), [](const rpc::ActorInfo*) {}).status()));
  CHECK(gcs.state.actors.List().empty());
}

TEST_CASE("an actor that fits no node waits, then goes to a node that joins") {
  InMemoryStoreClient store;
  Gcs gcs(store);
  gcs.AddNode(2);
  auto job = gcs.AddJob();
  auto actor = MakeActor(job);
  (*actor.mutable_creation_spec()->mutable_required_resources())["CPU"] = 8;
  REQUIRE(gcs.state.actors.Register(actor).ok());
  CHECK(gcs.rpc.leases.empty());
  gcs.state.actors.Tick();
  CHECK(gcs.rpc.leases.empty());
  CHECK(gcs.state.actors.num_waiting_for_node() == 1);
  CHECK(gcs.Info(actor.actor_id()).state() == State::PENDING);

  auto big = gcs.AddNode(16);
  REQUIRE(gcs.rpc.leases.size() == 1);
  CHECK(gcs.rpc.leases.front().node.node_id() == big.node_id());
}

TEST_CASE("lease failures: transport errors retry, a refusal kills the actor") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  auto actor = MakeActor(job);
  REQUIRE(gcs.state.actors.Register(actor).ok());
  REQUIRE(gcs.rpc.leases.size() == 1);
  const int64_t request_id = gcs.rpc.leases.front().request.request_id();
  CHECK(request_id != 0);
  gcs.rpc.AnswerNextLease(absl::UnavailableError("connection refused"));
  CHECK(gcs.rpc.leases.empty());
  gcs.state.actors.Tick();
  REQUIRE(gcs.rpc.leases.size() == 1);
  // The same request again: the raylet answers it with any grant it made.
  CHECK(gcs.rpc.leases.front().request.request_id() == request_id);

  rpc::RequestWorkerLeaseReply refused;
  refused.set_rejected(true);
  refused.set_error("job 1 is unknown here");
  gcs.rpc.AnswerNextLease(absl::OkStatus(), refused);
  const auto& info = gcs.Info(actor.actor_id());
  CHECK(info.state() == State::DEAD);
  CHECK(info.death_error().type() == rpc::ErrorInfo::ACTOR_DIED);
  CHECK_THAT(info.death_cause(), Catch::Contains("refused a worker for the actor: job 1 is unknown"));
}

TEST_CASE("killing a pending actor; a lease granted later is returned") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  const rpc::NodeInfo& node = cluster.node;
  auto actor = MakeActor(job, "", /*max_restarts=*/0);
  REQUIRE(gcs.state.actors.Register(actor).ok());
  REQUIRE(gcs.rpc.leases.size() == 1);
  REQUIRE(gcs.state.actors.Kill(actor.actor_id(), /*no_restart=*/true, "").ok());
  CHECK(gcs.Info(actor.actor_id()).state() == State::DEAD);
  CHECK(gcs.Info(actor.actor_id()).death_cause() == "killed by ray::Kill");

  gcs.rpc.GrantNext();
  CHECK(gcs.rpc.pushes.empty());
  REQUIRE(gcs.rpc.returns.size() == 1);
  CHECK(gcs.rpc.returns[0].node_id == node.node_id());
  CHECK(gcs.rpc.returns[0].worker_exiting);
  // Killing the dead again is fine.
  CHECK(gcs.state.actors.Kill(actor.actor_id(), true, "").ok());
}

TEST_CASE("killing an alive actor, with and without a restart") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  auto id = gcs.CreateAlive(MakeActor(job, "", /*max_restarts=*/1));
  int64_t lease = gcs.Info(id).lease_id();

  REQUIRE(gcs.state.actors.Kill(id, /*no_restart=*/false, "").ok());
  REQUIRE(gcs.rpc.returns.size() == 1);
  CHECK(gcs.rpc.returns[0].lease_id == lease);
  CHECK(gcs.rpc.returns[0].worker_exiting);
  CHECK(gcs.Info(id).state() == State::RESTARTING);
  CHECK(gcs.Info(id).num_restarts() == 1);
  CHECK(gcs.Info(id).address().worker_id().empty());
  REQUIRE(gcs.rpc.request_ids.size() == 2);
  CHECK(gcs.rpc.request_ids[1] != gcs.rpc.request_ids[0]);  // A new request, not a repeat.
  gcs.rpc.GrantNext();
  REQUIRE(gcs.rpc.pushes.size() == 1);
  CHECK(gcs.rpc.pushes.front().spec.num_restarts() == 1);
  gcs.rpc.AnswerNextPush();
  CHECK(gcs.Info(id).state() == State::ALIVE);

  SECTION("no restarts left: a kill that allows one still kills for good") {
    REQUIRE(gcs.state.actors.Kill(id, false, "").ok());
    CHECK(gcs.Info(id).state() == State::DEAD);
    CHECK(gcs.Info(id).death_cause() == "killed by ray::Kill");
  }
  SECTION("no_restart, with the cause given by ExitActor") {
    REQUIRE(gcs.state.actors.Kill(id, true, "the actor called ray::ExitActor").ok());
    CHECK(gcs.Info(id).state() == State::DEAD);
    CHECK(gcs.Info(id).death_cause() == "the actor called ray::ExitActor");
    CHECK(gcs.Info(id).death_error().type() == rpc::ErrorInfo::ACTOR_DIED);
    CHECK(gcs.rpc.returns.size() == 2);
  }
}

TEST_CASE("a worker death restarts the actor while restarts remain, then kills it") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  auto id = gcs.CreateAlive(MakeActor(job, "", /*max_restarts=*/1));
  std::string first_worker = gcs.Info(id).address().worker_id();

  REQUIRE(gcs.ReportDeath(id, first_worker, 4242).ok());
  CHECK(gcs.Info(id).state() == State::RESTARTING);
  CHECK(gcs.Info(id).num_restarts() == 1);
  CHECK(gcs.rpc.returns.empty());  // The raylet has that worker back already.
  std::string second_worker = gcs.rpc.GrantNext(5151);
  gcs.rpc.AnswerNextPush();
  CHECK(gcs.Info(id).state() == State::ALIVE);

  // A late report about the first worker changes nothing.
  int64_t version = gcs.Info(id).version();
  REQUIRE(gcs.ReportDeath(id, first_worker).ok());
  CHECK(gcs.Info(id).state() == State::ALIVE);
  CHECK(gcs.Info(id).version() == version);

  REQUIRE(gcs.ReportDeath(id, second_worker, 5151).ok());
  const auto& info = gcs.Info(id);
  CHECK(info.state() == State::DEAD);
  CHECK(info.death_cause() ==
        "the actor's worker process (pid 5151) died: killed by signal 9 (SIGKILL)");
  CHECK(info.death_error().type() == rpc::ErrorInfo::ACTOR_DIED);
  CHECK(info.death_error().pid() == 5151);
  CHECK(gcs.rpc.leases.empty());

  CHECK(absl::IsInvalidArgument(gcs.ReportDeath(id, "bad")));
}

TEST_CASE("a worker lost while the factory runs counts as a worker death") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  auto actor = MakeActor(job, "", /*max_restarts=*/-1);
  REQUIRE(gcs.state.actors.Register(actor).ok());
  gcs.rpc.GrantNext();
  gcs.rpc.AnswerNextPush({}, absl::UnavailableError("Socket closed"));
  CHECK(gcs.Info(actor.actor_id()).state() == State::RESTARTING);
  CHECK(gcs.rpc.returns.size() == 1);  // Killed, in case it still runs.
  CHECK(gcs.rpc.leases.size() == 1);
}

TEST_CASE("a factory that throws kills the actor without a restart") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  auto actor = MakeActor(job, "named", /*max_restarts=*/3);
  REQUIRE(gcs.state.actors.Register(actor).ok());
  gcs.rpc.GrantNext();
  gcs.rpc.AnswerNextPush(Thrown("boom"));
  const auto& info = gcs.Info(actor.actor_id());
  CHECK(info.state() == State::DEAD);
  CHECK(info.death_cause() == "the actor's factory threw: boom");
  CHECK(info.death_error().type() == rpc::ErrorInfo::TASK_EXCEPTION);
  CHECK(info.death_error().exception_type() == "std::runtime_error");
  CHECK(info.num_restarts() == 0);
  CHECK(gcs.rpc.returns.size() == 1);
  CHECK(gcs.rpc.leases.empty());
  CHECK(gcs.state.actors.Register(MakeActor(job, "named")).ok());  // Name free again.
}

TEST_CASE("a finished job's actors die, except detached ones") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  auto regular = gcs.CreateAlive(MakeActor(job, "", /*max_restarts=*/5));
  auto detached = gcs.CreateAlive(MakeActor(job, "keeper", 0, /*detached=*/true));
  auto pending = MakeActor(job);
  REQUIRE(gcs.state.actors.Register(pending).ok());

  REQUIRE(gcs.state.jobs.MarkFinished(job).ok());
  gcs.state.actors.OnJobFinished(job);
  std::string cause = "the actor's owner, the driver of job " + IdHex(job) + ", exited";
  CHECK(gcs.Info(regular).state() == State::DEAD);
  CHECK(gcs.Info(regular).death_cause() == cause);
  CHECK(gcs.Info(pending.actor_id()).state() == State::DEAD);
  CHECK(gcs.Info(detached).state() == State::ALIVE);
  REQUIRE(gcs.rpc.returns.size() == 1);  // The regular actor's worker is killed.
  CHECK(gcs.rpc.returns[0].worker_exiting);

  auto late = gcs.state.actors.Register(MakeActor(job));
  CHECK(absl::IsFailedPrecondition(late));
}

TEST_CASE("a node's death restarts or kills the actors on it") {
  InMemoryStoreClient store;
  Gcs gcs(store);
  auto first = gcs.AddNode();
  auto job = gcs.AddJob();
  auto restartable = gcs.CreateAlive(MakeActor(job, "", /*max_restarts=*/1));
  auto fragile = gcs.CreateAlive(MakeActor(job, "fragile", 0));
  auto second = gcs.AddNode();

  gcs.state.nodes.MarkDead(first.node_id(), kHealthCheckFailedCause);
  CHECK(gcs.rpc.returns.empty());
  CHECK(gcs.rpc.forgotten == std::vector<std::string>{first.node_id()});
  CHECK(gcs.Info(fragile).state() == State::DEAD);
  CHECK(gcs.Info(fragile).death_cause() ==
        "its node " + IdHex(first.node_id()) + " died (health check failed)");
  CHECK(gcs.Info(restartable).state() == State::RESTARTING);
  REQUIRE(gcs.rpc.leases.size() == 1);
  CHECK(gcs.rpc.leases.front().node.node_id() == second.node_id());

  SECTION("a lease request in flight to a dying node moves on without a restart") {
    gcs.state.nodes.MarkDead(second.node_id(), "unregistered");
    CHECK(gcs.Info(restartable).state() == State::RESTARTING);
    CHECK(gcs.Info(restartable).num_restarts() == 1);
    CHECK(gcs.state.actors.num_waiting_for_node() == 1);
  }
}

TEST_CASE("GetActorInfo long polls answer on a change, at the deadline and at shutdown") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  auto actor = MakeActor(job);
  REQUIRE(gcs.state.actors.Register(actor).ok());
  const int64_t registered = gcs.Info(actor.actor_id()).version();

  rpc::GetActorInfoRequest req;
  req.set_actor_id(actor.actor_id());
  req.set_after_version(registered);
  int answers = 0;
  rpc::ActorInfo seen;
  auto reply = [&](const rpc::ActorInfo* info) {
    ++answers;
    REQUIRE(info != nullptr);
    seen = *info;
  };
  auto waiter = gcs.state.actors.GetInfo(req, reply);
  REQUIRE(waiter.ok());
  CHECK(*waiter != 0);
  CHECK(answers == 0);
  gcs.rpc.GrantNext();  // Leased: a change.
  CHECK(answers == 1);
  CHECK(seen.version() > registered);
  gcs.state.actors.ExpirePoll(*waiter);  // Already answered: nothing more.
  CHECK(answers == 1);

  req.set_after_version(seen.version());
  auto timed = gcs.state.actors.GetInfo(req, reply);
  REQUIRE(timed.ok());
  gcs.state.actors.ExpirePoll(*timed);
  CHECK(answers == 2);
  CHECK(seen.state() == State::PENDING);

  // A poll of a version not reached yet waits; shutdown answers it.
  REQUIRE(gcs.state.actors.GetInfo(req, reply).ok());
  CHECK(answers == 2);
  gcs.state.actors.Close();
  CHECK(answers == 3);

  // Unknown actors are answered at once with "not found".
  rpc::GetActorInfoRequest unknown;
  unknown.set_actor_id(ActorId::Of(JobId::FromInt(1)).Binary());
  unknown.set_after_version(5);
  bool not_found = false;
  auto st = gcs.state.actors.GetInfo(unknown, [&](const rpc::ActorInfo* info) {
    not_found = info == nullptr;
  });
  CHECK(*st == 0);
  CHECK(not_found);
}

TEST_CASE("a GCS reloaded from the store keeps alive actors and names, and re-creates the rest") {
  InMemoryStoreClient store;
  rpc::NodeInfo node;
  std::string job, alive, creating;
  rpc::ActorInfo before;
  {
    Gcs gcs(store);
    node = gcs.AddNode();
    job = gcs.AddJob();
    alive = gcs.CreateAlive(MakeActor(job, "keeper", 0, /*detached=*/true));
    before = gcs.Info(alive);
    auto actor = MakeActor(job);
    creating = actor.actor_id();
    REQUIRE(gcs.state.actors.Register(actor).ok());
    gcs.rpc.GrantNext();  // Leased; the factory runs when the GCS goes away.
  }
  Gcs gcs(store);  // Load + first Tick.
  const auto& info = gcs.Info(alive);
  CHECK(info.state() == State::ALIVE);
  CHECK(info.address().worker_id() == before.address().worker_id());
  CHECK(info.version() == before.version());
  CHECK(absl::IsAlreadyExists(gcs.state.actors.Register(MakeActor(job, "keeper", 0, true))));

  // The interrupted creation: its lease is returned and a new one asked for.
  REQUIRE(gcs.rpc.returns.size() == 1);
  CHECK(gcs.rpc.returns[0].node_id == node.node_id());
  REQUIRE(gcs.rpc.leases.size() == 1);
  CHECK(gcs.rpc.leases.front().request.actor_id() == creating);
  CHECK(gcs.Info(creating).num_restarts() == 0);
  gcs.rpc.GrantNext();
  gcs.rpc.AnswerNextPush();
  CHECK(gcs.Info(creating).state() == State::ALIVE);

  // The kept actor can still die normally.
  REQUIRE(gcs.ReportDeath(alive, info.address().worker_id()).ok());
  CHECK(gcs.Info(alive).state() == State::DEAD);
}

TEST_CASE("only the newest dead actors are kept") {
  OneNode cluster;
  Gcs& gcs = cluster.gcs;
  const std::string& job = cluster.job;
  InMemoryStoreClient& store = cluster.store;
  FakeActorRpc rpc;
  ActorManager actors(store, gcs.clock, gcs.state.nodes, gcs.state.resources, gcs.state.jobs, rpc,
                      /*max_dead_actors=*/3);
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto actor = MakeActor(job, "a" + std::to_string(i));
    REQUIRE(actors.Register(actor).ok());
    REQUIRE(actors.Kill(actor.actor_id(), true, "").ok());
    ids.push_back(actor.actor_id());
    gcs.clock.AdvanceMs(10);  // Deaths are ordered by end time at reload.
  }
  auto live = MakeActor(job, "live");
  REQUIRE(actors.Register(live).ok());
  CHECK(actors.List().size() == 4);
  CHECK(actors.Find(ids[0]) == nullptr);
  CHECK(actors.Find(ids[1]) == nullptr);
  CHECK(actors.Find(ids[4]) != nullptr);
  auto rows = store.GetAll(kActorTable);
  REQUIRE(rows.ok());
  CHECK(rows->size() == 4);
  CHECK_FALSE(rows->contains(IdHex(ids[0])));

  ActorManager reloaded(store, gcs.clock, gcs.state.nodes, gcs.state.resources, gcs.state.jobs,
                        rpc, /*max_dead_actors=*/1);
  REQUIRE(reloaded.Load().ok());
  CHECK(reloaded.List().size() == 2);  // The live one and the newest death.
  CHECK(reloaded.Find(ids[4]) != nullptr);
  CHECK(store.GetAll(kActorTable)->size() == 2);
}

TEST_CASE("PickActorNode prefers the owner's node, then free room, then total room") {
  auto view = [](const std::string& id, double total, double available) {
    rpc::ResourceView v;
    v.set_node_id(id);
    (*v.mutable_total())["CPU"] = total;
    (*v.mutable_available())["CPU"] = available;
    return v;
  };
  std::vector<rpc::ResourceView> views = {view("a", 4, 0), view("b", 8, 2), view("c", 2, 2)};
  google::protobuf::Map<std::string, double> none;
  google::protobuf::Map<std::string, double> two;
  two["CPU"] = 2;
  google::protobuf::Map<std::string, double> six;
  six["CPU"] = 6;
  google::protobuf::Map<std::string, double> gpu;
  gpu["GPU"] = 1;
  CHECK(PickActorNode(views, none, "c") == "c");
  CHECK(PickActorNode(views, none, "") == "a");
  CHECK(PickActorNode(views, two, "a") == "b");
  CHECK(PickActorNode(views, six, "") == "b");
  CHECK(PickActorNode(views, gpu, "a") == "");
  CHECK(PickActorNode({}, none, "") == "");
}

TEST_CASE("an actor with node affinity asks that node first, and its lease request carries the strategy") {
  InMemoryStoreClient store;
  Gcs gcs(store);
  auto first = gcs.AddNode();
  auto second = gcs.AddNode();
  auto job = gcs.AddJob();
  rpc::ActorInfo actor = MakeActor(job);
  rpc::SchedulingStrategy* strategy = actor.mutable_creation_spec()->mutable_scheduling_strategy();
  strategy->set_kind(rpc::SchedulingStrategy::NODE_AFFINITY);
  strategy->set_node_id(second.node_id());
  REQUIRE(gcs.state.actors.Register(actor).ok());
  REQUIRE(gcs.rpc.leases.size() == 1);
  CHECK(gcs.rpc.leases.front().node.node_id() == second.node_id());
  CHECK(gcs.rpc.leases.front().request.scheduling_strategy().node_id() == second.node_id());
  // Its raylet would spill a soft affinity elsewhere; the GCS follows.
  rpc::RequestWorkerLeaseReply spill;
  spill.mutable_retry_at_raylet()->set_node_id(first.node_id());
  gcs.rpc.AnswerNextLease(absl::OkStatus(), spill);
  REQUIRE(gcs.rpc.leases.size() == 1);
  CHECK(gcs.rpc.leases.front().node.node_id() == first.node_id());
}

TEST_CASE("SPREAD actors go to the node hosting the fewest actors") {
  InMemoryStoreClient store;
  Gcs gcs(store);
  std::set<std::string> nodes;
  for (int i = 0; i < 3; ++i) nodes.insert(gcs.AddNode().node_id());
  auto job = gcs.AddJob();
  std::set<std::string> used;
  for (int i = 0; i < 3; ++i) {
    rpc::ActorInfo actor = MakeActor(job);
    actor.mutable_creation_spec()->mutable_scheduling_strategy()->set_kind(
        rpc::SchedulingStrategy::SPREAD);
    REQUIRE(gcs.state.actors.Register(actor).ok());
    REQUIRE(gcs.rpc.leases.size() == 1);
    used.insert(gcs.rpc.leases.front().node.node_id());
    gcs.rpc.GrantNext();
    gcs.rpc.AnswerNextPush();
  }
  CHECK(used == nodes);
  // Without SPREAD, the same three would share the first node with room.
  std::set<std::string> plain;
  for (int i = 0; i < 3; ++i) {
    REQUIRE(gcs.state.actors.Register(MakeActor(job)).ok());
    plain.insert(gcs.rpc.leases.front().node.node_id());
    gcs.rpc.GrantNext();
    gcs.rpc.AnswerNextPush();
  }
  CHECK(plain.size() == 1);
}

TEST_CASE("PickSpreadActorNode: fewest actors among nodes with room, else any that can") {
  auto view = [](const std::string& id, double total, double available) {
    rpc::ResourceView v;
    v.set_node_id(id);
    (*v.mutable_total())["CPU"] = total;
    (*v.mutable_available())["CPU"] = available;
    return v;
  };
  std::vector<rpc::ResourceView> views = {view("a", 4, 4), view("b", 4, 4), view("c", 4, 0)};
  std::map<std::string, size_t> actors = {{"a", 2}, {"b", 1}, {"c", 0}};
  auto count = [&](const std::string& node) { return actors[node]; };
  google::protobuf::Map<std::string, double> one;
  one["CPU"] = 1;
  CHECK(PickSpreadActorNode(views, one, count) == "b");  // c has the fewest but no room.
  actors["b"] = 2;
  CHECK(PickSpreadActorNode(views, one, count) == "a");  // Tie: the first.
  google::protobuf::Map<std::string, double> eight;
  eight["CPU"] = 8;
  CHECK(PickSpreadActorNode(views, eight, count) == "");
}
