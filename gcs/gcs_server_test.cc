// GcsServer end to end over gRPC: the service methods, health checks
// against a stand-in raylet, and a GCS restart on the same Redis.
#include "gcs/gcs_server.h"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "common/rpc/client.h"
#include "gcs/store/redis_test_server.h"
#include "gcs/test_util.h"
#include "proto/raylet.grpc.pb.h"
#include "proto/worker.grpc.pb.h"

using namespace lumen;
using namespace lumen::gcs;
using lumen::gcs::testing::MakeNode;
using rpc::GcsService;

namespace {

constexpr char kToken[] = "test-token";

// Answers HealthCheck until stopped: a raylet as far as the GCS can tell.
// Grants actor leases on the worker at `worker_port` and records returns.
class StandInRaylet : public rpc::RayletService::CallbackService {
 public:
  explicit StandInRaylet(int worker_port = 0) : worker_port_(worker_port) {
    server_.RegisterService(this);
    port_ = server_.Start().value();
  }
  grpc::ServerUnaryReactor* HealthCheck(grpc::CallbackServerContext* ctx,
                                        const rpc::HealthCheckRequest*,
                                        rpc::HealthCheckReply*) override {
    return gate_.HandleInline(ctx, "HealthCheck", [](rpc::Done done) { done(absl::OkStatus()); });
  }
  grpc::ServerUnaryReactor* RequestWorkerLease(grpc::CallbackServerContext* ctx,
                                               const rpc::RequestWorkerLeaseRequest*,
                                               rpc::RequestWorkerLeaseReply* reply) override {
    return gate_.HandleInline(ctx, "RequestWorkerLease", [this, reply](rpc::Done done) {
      reply->mutable_worker_address()->set_ip("127.0.0.1");
      reply->mutable_worker_address()->set_port(worker_port_);
      reply->mutable_worker_address()->set_worker_id(WorkerId::FromRandom().Binary());
      reply->set_lease_id(++leases_);
      reply->set_worker_pid(4242);
      done(absl::OkStatus());
    });
  }
  grpc::ServerUnaryReactor* ReturnWorker(grpc::CallbackServerContext* ctx,
                                         const rpc::ReturnWorkerRequest* req,
                                         rpc::ReturnWorkerReply*) override {
    return gate_.HandleInline(ctx, "ReturnWorker", [this, req](rpc::Done done) {
      if (req->worker_exiting()) ++exiting_returns_;
      done(absl::OkStatus());
    });
  }
  void Stop() { server_.Shutdown(); }
  int port() const { return port_; }
  int exiting_returns() const { return exiting_returns_; }

 private:
  rpc::CallGate gate_{nullptr, kToken};
  rpc::GrpcServer server_{"127.0.0.1", 0, kToken};
  int port_ = 0;
  const int worker_port_;
  std::atomic<int64_t> leases_{0};
  std::atomic<int> exiting_returns_{0};
};

// A worker whose every creation task succeeds.
class StandInWorker : public rpc::CoreWorkerService::CallbackService {
 public:
  StandInWorker() {
    server_.RegisterService(this);
    port_ = server_.Start().value();
  }
  grpc::ServerUnaryReactor* PushTasks(grpc::CallbackServerContext* ctx,
                                      const rpc::PushTasksRequest* req,
                                      rpc::PushTasksReply* reply) override {
    return gate_.HandleInline(ctx, "PushTasks", [req, reply](rpc::Done done) {
      for (int i = 0; i < req->tasks_size(); ++i) reply->add_replies();
      done(absl::OkStatus());
    });
  }
  int port() const { return port_; }

 private:
  rpc::CallGate gate_{nullptr, kToken};
  rpc::GrpcServer server_{"127.0.0.1", 0, kToken};
  int port_ = 0;
};

// Fast health checks (a probe every 100 ms) so that deaths show quickly;
// the timeout leaves room for a loaded test machine.
GcsServerOptions Options(const std::string& redis_address = "") {
  GcsServerOptions options;
  options.port = 0;
  options.token = kToken;
  options.redis_address = redis_address;
  options.health_check = HealthCheckOptions{100, 500, 3};
  return options;
}

struct Client {
  explicit Client(const GcsServer& gcs) : rpc(gcs.address(), kToken) {}
  rpc::RpcClient<GcsService> rpc;

  void Register(const rpc::NodeInfo& node) {
    rpc::RegisterNodeRequest req;
    *req.mutable_node() = node;
    REQUIRE(rpc.CallSync(&GcsService::Stub::RegisterNode, req).ok());
  }
  std::vector<rpc::NodeInfo> Nodes() {
    auto reply = rpc.CallSync(&GcsService::Stub::GetAllNodes, rpc::GetAllNodesRequest());
    REQUIRE(reply.ok());
    return {reply->nodes().begin(), reply->nodes().end()};
  }
  uint32_t AddJob() {
    auto reply = rpc.CallSync(&GcsService::Stub::AddJob, rpc::AddJobRequest());
    REQUIRE(reply.ok());
    return JobId::FromBinaryOrNil(reply->job_id()).ToInt();
  }
  bool ReportIsUnknown(const std::string& node_id) {
    rpc::ReportResourcesRequest req;
    req.mutable_view()->set_node_id(node_id);
    auto reply = rpc.CallSync(&GcsService::Stub::ReportResources, req);
    REQUIRE(reply.ok());
    return reply->unknown_node();
  }
  rpc::PollNodeChangesReply Poll(int64_t after_seq, int64_t timeout_ms) {
    rpc::PollNodeChangesRequest req;
    req.set_after_seq(after_seq);
    req.set_timeout_ms(timeout_ms);
    auto reply = rpc.CallSync(&GcsService::Stub::PollNodeChanges, req, timeout_ms + 5000);
    REQUIRE(reply.ok());
    return *reply;
  }
  absl::Status RegisterActor(const rpc::ActorInfo& actor) {
    rpc::RegisterActorRequest req;
    *req.mutable_actor() = actor;
    return rpc.CallSync(&GcsService::Stub::RegisterActor, req).status();
  }
  rpc::GetActorInfoReply ActorInfo(rpc::GetActorInfoRequest req) {
    auto reply = rpc.CallSync(&GcsService::Stub::GetActorInfo, req, req.timeout_ms() + 5000);
    REQUIRE(reply.ok());
    return *reply;
  }
  rpc::GetActorInfoReply ActorByName(const std::string& name, const std::string& ns) {
    rpc::GetActorInfoRequest req;
    req.set_name(name);
    req.set_ray_namespace(ns);
    return ActorInfo(req);
  }
  // Follows the actor's changes (long polls) until it is in `state`.
  rpc::ActorInfo WaitForActor(const std::string& actor_id, rpc::ActorInfo::State state) {
    rpc::GetActorInfoRequest req;
    req.set_actor_id(actor_id);
    req.set_timeout_ms(2000);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto reply = ActorInfo(req);
      REQUIRE(reply.found());
      if (reply.actor().state() == state) return reply.actor();
      req.set_after_version(reply.actor().version());
    }
    FAIL("actor never reached the expected state");
    return {};
  }
  // Follows the pub/sub until `node_id` is reported with `state`.
  rpc::NodeInfo WaitForState(const std::string& node_id, rpc::NodeInfo::State state) {
    int64_t seq = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (std::chrono::steady_clock::now() < deadline) {
      auto reply = Poll(seq, 2000);
      for (const auto& change : reply.changes()) {
        if (change.node().node_id() == node_id && change.node().state() == state) {
          return change.node();
        }
      }
      seq = reply.last_seq();
    }
    FAIL("node never reached the expected state");
    return {};
  }
};

std::unique_ptr<GcsServer> StartGcs(const GcsServerOptions& options) {
  auto gcs = std::make_unique<GcsServer>(options);
  REQUIRE(gcs->Start().ok());
  return gcs;
}

}  // namespace

TEST_CASE("GCS serves nodes, resources, jobs and KV over gRPC") {
  auto gcs = StartGcs(Options());
  Client client(*gcs);
  StandInRaylet raylet;  // Keeps the node alive while the test runs.
  auto node = MakeNode(raylet.port());
  CHECK(client.ReportIsUnknown(node.node_id()));
  client.Register(node);
  CHECK_FALSE(client.ReportIsUnknown(node.node_id()));
  REQUIRE(client.Nodes().size() == 1);
  CHECK(client.AddJob() == 1);
  CHECK(client.AddJob() == 2);

  rpc::KvPutRequest put;
  put.set_ns("n");
  put.set_key("k");
  put.set_value("v");
  CHECK(client.rpc.CallSync(&GcsService::Stub::KvPut, put).value().added());
  rpc::KvGetRequest get;
  get.set_ns("n");
  get.set_key("k");
  CHECK(client.rpc.CallSync(&GcsService::Stub::KvGet, get).value().value() == "v");

  rpc::UnregisterNodeRequest bye;
  bye.set_node_id(node.node_id());
  REQUIRE(client.rpc.CallSync(&GcsService::Stub::UnregisterNode, bye).ok());
  CHECK(client.Nodes()[0].death_cause() == "unregistered");
  CHECK(client.ReportIsUnknown(node.node_id()));
}

TEST_CASE("GCS refuses calls without the cluster token") {
  auto gcs = StartGcs(Options());
  rpc::RpcClient<GcsService> stranger(gcs->address(), "wrong");
  auto reply = stranger.CallSync(&GcsService::Stub::GetAllNodes, rpc::GetAllNodesRequest());
  CHECK(absl::IsUnauthenticated(reply.status()));
}

TEST_CASE("a long poll is answered by the next node change") {
  auto gcs = StartGcs(Options());
  Client client(*gcs);
  CHECK(client.Poll(0, 50).changes_size() == 0);  // Times out empty.
  // The long poll waits on another thread, which must not use Catch2's
  // assertions (they are not thread-safe): its reply is checked here.
  auto waiting = std::async(std::launch::async, [&] {
    rpc::PollNodeChangesRequest req;
    req.set_timeout_ms(30000);
    return client.rpc.CallSync(&GcsService::Stub::PollNodeChanges, req, 35000);
  });
  auto node = MakeNode();
  Client(*gcs).Register(node);
  auto reply = waiting.get();
  REQUIRE(reply.ok());
  REQUIRE(reply->changes_size() == 1);
  CHECK(reply->changes(0).node().node_id() == node.node_id());
}

TEST_CASE("a raylet that stops answering health checks is declared dead") {
  auto gcs = StartGcs(Options());
  Client client(*gcs);
  StandInRaylet healthy, doomed;
  auto kept = MakeNode(healthy.port());
  auto lost = MakeNode(doomed.port());
  client.Register(kept);
  client.Register(lost);
  doomed.Stop();
  auto dead = client.WaitForState(lost.node_id(), rpc::NodeInfo::DEAD);
  CHECK(dead.death_cause() == "health check failed");
  const auto nodes = client.Nodes();
  const auto survivor = std::find_if(nodes.begin(), nodes.end(),
                                     [&](const rpc::NodeInfo& node) { return node.node_id() == kept.node_id(); });
  REQUIRE(survivor != nodes.end());  // The healthy node is still listed...
  CHECK(survivor->state() == rpc::NodeInfo::ALIVE);  // ...and still alive.
}

TEST_CASE("a GCS restarted on the same Redis has its tables back") {
  auto redis = RedisTestServer::Start();
  REQUIRE(redis.ok());
  StandInRaylet raylet;
  auto node = MakeNode(raylet.port());
  {
    auto gcs = StartGcs(Options((*redis)->address()));
    Client client(*gcs);
    client.Register(node);
    CHECK(client.AddJob() == 1);
  }
  auto gcs = StartGcs(Options((*redis)->address()));
  Client client(*gcs);
  auto nodes = client.Nodes();
  REQUIRE(nodes.size() == 1);
  CHECK(nodes[0].node_id() == node.node_id());
  CHECK(nodes[0].state() == rpc::NodeInfo::ALIVE);
  CHECK_FALSE(client.ReportIsUnknown(node.node_id()));  // The raylet keeps reporting.
  auto jobs = client.rpc.CallSync(&GcsService::Stub::GetAllJobs, rpc::GetAllJobsRequest());
  REQUIRE(jobs.ok());
  CHECK(jobs->jobs_size() == 1);
  CHECK(client.AddJob() == 2);
  // Loaded nodes are health-checked again: once the raylet goes, so does the node.
  raylet.Stop();
  CHECK(client.WaitForState(node.node_id(), rpc::NodeInfo::DEAD).death_cause() ==
        "health check failed");
}

TEST_CASE("GCS start fails clearly on an unreachable Redis or a used port") {
  GcsServer no_redis(Options("127.0.0.1:" + std::to_string(PickFreePort())));
  auto st = no_redis.Start();
  REQUIRE_FALSE(st.ok());
  CHECK(absl::IsUnavailable(st.status()));

  auto gcs = StartGcs(Options());
  GcsServerOptions same_port = Options();
  same_port.port = gcs->port();
  GcsServer second(same_port);
  auto used = second.Start();
  REQUIRE_FALSE(used.ok());
  CHECK(used.status().message().find("already in use") != std::string::npos);
}

namespace {

rpc::ActorInfo NamedActor(uint32_t job, const std::string& name, bool detached = false) {
  rpc::ActorInfo actor;
  actor.set_actor_id(ActorId::Of(JobId::FromInt(job)).Binary());
  actor.set_job_id(JobId::FromInt(job).Binary());
  actor.set_name(name);
  actor.set_ray_namespace("ns");
  actor.set_detached(detached);
  actor.mutable_creation_spec()->set_function_name("Counter::Create");
  return actor;
}

}  // namespace

TEST_CASE("actors over gRPC: created through a raylet and a worker, named, killed") {
  auto gcs = StartGcs(Options());
  Client client(*gcs);
  StandInWorker worker;
  StandInRaylet raylet(worker.port());
  client.Register(MakeNode(raylet.port()));
  uint32_t job = client.AddJob();

  auto actor = NamedActor(job, "counter");
  REQUIRE(client.RegisterActor(actor).ok());
  CHECK(client.RegisterActor(actor).ok());  // A retried call.
  auto clash = client.RegisterActor(NamedActor(job, "counter"));
  CHECK(absl::IsAlreadyExists(clash));
  CHECK(clash.message() == "actor name 'counter' is already taken in namespace 'ns'");
  CHECK(absl::IsNotFound(client.RegisterActor(NamedActor(job + 1, "other"))));

  auto alive = client.WaitForActor(actor.actor_id(), rpc::ActorInfo::ALIVE);
  CHECK(alive.address().port() == worker.port());
  auto by_name = client.ActorByName("counter", "ns");
  REQUIRE(by_name.found());
  CHECK(by_name.actor().actor_id() == actor.actor_id());
  CHECK_FALSE(client.ActorByName("counter", "elsewhere").found());
  auto list = client.rpc.CallSync(&GcsService::Stub::ListActors, rpc::ListActorsRequest());
  REQUIRE(list.ok());
  CHECK(list->actors_size() == 1);

  // A long poll with nothing new is answered at its timeout with the same version.
  rpc::GetActorInfoRequest poll;
  poll.set_actor_id(actor.actor_id());
  poll.set_after_version(alive.version());
  poll.set_timeout_ms(100);
  auto unchanged = client.ActorInfo(poll);
  REQUIRE(unchanged.found());
  CHECK(unchanged.actor().version() == alive.version());

  rpc::KillActorRequest kill;
  kill.set_actor_id(actor.actor_id());
  kill.set_no_restart(true);
  REQUIRE(client.rpc.CallSync(&GcsService::Stub::KillActor, kill).ok());
  auto dead = client.WaitForActor(actor.actor_id(), rpc::ActorInfo::DEAD);
  CHECK(dead.death_cause() == "killed by ray::Kill");
  CHECK_FALSE(client.ActorByName("counter", "ns").found());
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (raylet.exiting_returns() == 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  CHECK(raylet.exiting_returns() == 1);  // The raylet was told to kill the worker.

  kill.set_actor_id("bad");
  CHECK(absl::IsInvalidArgument(client.rpc.CallSync(&GcsService::Stub::KillActor, kill).status()));

  // The driver's exit (MarkJobFinished) takes its actors with it.
  auto owned = NamedActor(job, "owned");
  REQUIRE(client.RegisterActor(owned).ok());
  client.WaitForActor(owned.actor_id(), rpc::ActorInfo::ALIVE);
  rpc::MarkJobFinishedRequest finished;
  finished.set_job_id(JobId::FromInt(job).Binary());
  REQUIRE(client.rpc.CallSync(&GcsService::Stub::MarkJobFinished, finished).ok());
  CHECK_THAT(client.WaitForActor(owned.actor_id(), rpc::ActorInfo::DEAD).death_cause(),
             Catch::Contains("the actor's owner, the driver of job"));
}

TEST_CASE("a GCS restarted on the same Redis keeps a detached actor alive and named") {
  auto redis = RedisTestServer::Start();
  REQUIRE(redis.ok());
  StandInWorker worker;
  StandInRaylet raylet(worker.port());
  auto node = MakeNode(raylet.port());
  rpc::ActorInfo alive;
  {
    auto gcs = StartGcs(Options((*redis)->address()));
    Client client(*gcs);
    client.Register(node);
    auto actor = NamedActor(client.AddJob(), "keeper", /*detached=*/true);
    REQUIRE(client.RegisterActor(actor).ok());
    alive = client.WaitForActor(actor.actor_id(), rpc::ActorInfo::ALIVE);
  }
  auto gcs = StartGcs(Options((*redis)->address()));
  Client client(*gcs);
  auto found = client.ActorByName("keeper", "ns");
  REQUIRE(found.found());
  CHECK(found.actor().state() == rpc::ActorInfo::ALIVE);
  CHECK(found.actor().address().worker_id() == alive.address().worker_id());
  CHECK(found.actor().version() == alive.version());
  CHECK(raylet.exiting_returns() == 0);  // Its worker was left running.
}
