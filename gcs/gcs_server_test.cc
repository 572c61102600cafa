// GcsServer end to end over gRPC: the service methods, health checks
// against a stand-in raylet, and a GCS restart on the same Redis.
#include "gcs/gcs_server.h"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <future>

#include "common/rpc/client.h"
#include "gcs/store/redis_test_server.h"
#include "gcs/test_util.h"
#include "proto/raylet.grpc.pb.h"

using namespace lumen;
using namespace lumen::gcs;
using lumen::gcs::testing::MakeNode;
using rpc::GcsService;

namespace {

constexpr char kToken[] = "test-token";

// Answers HealthCheck until stopped: a raylet as far as the GCS can tell.
class StandInRaylet : public rpc::RayletService::CallbackService {
 public:
  StandInRaylet() {
    server_.RegisterService(this);
    port_ = server_.Start().value();
  }
  grpc::ServerUnaryReactor* HealthCheck(grpc::CallbackServerContext* ctx,
                                        const rpc::HealthCheckRequest*,
                                        rpc::HealthCheckReply*) override {
    return gate_.HandleInline(ctx, "HealthCheck", [](rpc::Done done) { done(absl::OkStatus()); });
  }
  void Stop() { server_.Shutdown(); }
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
