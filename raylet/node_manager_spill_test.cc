// NodeManager with a cluster view (docs/scheduling.md): a request for
// another node is answered with retry_at_raylet; a spilled request of a job
// this node never saw waits for its JobInfo from the GCS, then is served;
// that job finishes here when the GCS says its driver exited.
#include <catch2/catch.hpp>

#include "raylet/node_manager_fixture.h"

using namespace lumen;
using namespace lumen::raylet;
using namespace lumen::raylet::testing;

namespace {

rpc::ResourceView View(const std::string& id, double cpus, double free, std::string extra = "") {
  rpc::ResourceView view;
  view.set_node_id(id);
  (*view.mutable_total())["CPU"] = cpus;
  (*view.mutable_available())["CPU"] = free;
  if (!extra.empty()) {
    (*view.mutable_total())[extra] = 1;
    (*view.mutable_available())[extra] = 1;
  }
  return view;
}

rpc::NodeInfo Info(const std::string& id, const std::string& ip, int port) {
  rpc::NodeInfo info;
  info.set_node_id(id);
  info.set_ip(ip);
  info.set_raylet_port(port);
  return info;
}

}  // namespace

TEST_CASE("a request only another node can run is answered with that node's raylet") {
  NodeFixture f(2, 0);
  REQUIRE(f.RegisterDriver().ok());
  ClusterView cluster(f.node_id.Binary());
  f.node.SetClusterView(&cluster);
  cluster.UpdateResources({View(f.node_id.Binary(), 2, 2), View("node-b", 4, 4, "gadget")});
  CHECK(cluster.NeedsAddresses());
  cluster.UpdateNodes({Info("node-b", "10.0.0.2", 7002)});
  CHECK_FALSE(cluster.NeedsAddresses());

  auto slot = std::make_shared<std::optional<rpc::RequestWorkerLeaseReply>>();
  rpc::RequestWorkerLeaseRequest request;
  request.set_job_id(f.job.Binary());
  (*request.mutable_resources())["gadget"] = 1;
  f.node.RequestWorkerLease(request, nullptr,
                            [slot](const rpc::RequestWorkerLeaseReply& r) { *slot = r; });
  REQUIRE(slot->has_value());
  CHECK_FALSE((*slot)->rejected());
  CHECK((*slot)->lease_id() == 0);
  CHECK((*slot)->retry_at_raylet().ip() == "10.0.0.2");
  CHECK((*slot)->retry_at_raylet().port() == 7002);
  CHECK((*slot)->retry_at_raylet().node_id() == "node-b");

  // A dead node (gone from the views) is no longer a target: the request waits.
  cluster.UpdateResources({View(f.node_id.Binary(), 2, 2)});
  auto waits = std::make_shared<std::optional<rpc::RequestWorkerLeaseReply>>();
  f.node.RequestWorkerLease(request, nullptr,
                            [waits](const rpc::RequestWorkerLeaseReply& r) { *waits = r; });
  CHECK_FALSE(waits->has_value());
  CHECK(f.node.View().num_pending_tasks() == 1);
  // It joins again: the waiting request goes there.
  cluster.UpdateResources({View(f.node_id.Binary(), 2, 2), View("node-b", 4, 4, "gadget")});
  cluster.UpdateNodes({Info("node-b", "10.0.0.2", 7002)});
  f.node.OnClusterView(/*changed=*/true);
  REQUIRE(waits->has_value());
  CHECK((*waits)->retry_at_raylet().port() == 7002);
}

TEST_CASE("a spilled request of a job this node never saw is served once the GCS names the job") {
  NodeFixture f(2, 0);  // No driver of f.job registered here.
  std::vector<std::pair<JobId, std::function<void(absl::StatusOr<rpc::JobInfo>)>>> fetches;
  f.node.SetJobFetcher([&](const JobId& job, std::function<void(absl::StatusOr<rpc::JobInfo>)> done) {
    fetches.emplace_back(job, std::move(done));
  });
  auto slot = std::make_shared<std::optional<rpc::RequestWorkerLeaseReply>>();
  rpc::RequestWorkerLeaseRequest request;
  request.set_job_id(f.job.Binary());
  (*request.mutable_resources())["CPU"] = 1;
  request.set_grant_or_reject(true);
  f.node.RequestWorkerLease(request, nullptr,
                            [slot](const rpc::RequestWorkerLeaseReply& r) { *slot = r; });
  REQUIRE(fetches.size() == 1);
  CHECK(fetches[0].first == f.job);
  CHECK_FALSE(slot->has_value());
  rpc::JobInfo info;
  info.set_driver_executable("/home/user/remote_driver");
  fetches[0].second(info);
  CHECK_FALSE(slot->has_value());  // A worker of the job is starting.
  REQUIRE(f.launcher.started.size() == 1);
  CHECK(f.launcher.started.begin()->second.argv[0] == "/home/user/remote_driver");
  f.WorkersRegister();
  REQUIRE(slot->has_value());
  CHECK((*slot)->lease_id() != 0);

  // The GCS says the job's driver exited: its workers here go.
  fetches.clear();
  f.node.CheckRemoteJobs();
  REQUIRE(fetches.size() == 1);
  info.set_is_dead(true);
  fetches[0].second(info);
  CHECK_FALSE(f.launcher.IsRunning(f.launcher.started.begin()->first));

  // A job the GCS does not know: refused, with the reason.
  auto unknown = std::make_shared<std::optional<rpc::RequestWorkerLeaseReply>>();
  request.set_job_id(JobId::FromInt(77).Binary());
  fetches.clear();
  f.node.RequestWorkerLease(request, nullptr,
                            [unknown](const rpc::RequestWorkerLeaseReply& r) { *unknown = r; });
  REQUIRE(fetches.size() == 1);
  fetches[0].second(absl::NotFoundError("unknown job"));
  REQUIRE(unknown->has_value());
  CHECK((*unknown)->rejected());
  CHECK((*unknown)->error().find("not known to this raylet") != std::string::npos);
}

TEST_CASE("the cluster view applies the GCS's deltas: changed views, nodes gone, or everything") {
  ClusterView cluster("local");
  rpc::GetClusterResourcesReply full;
  full.set_full(true);
  full.set_version(3);
  full.set_epoch(77);
  *full.add_views() = View("local", 2, 2);
  *full.add_views() = View("node-b", 4, 4);
  *full.add_views() = View("node-c", 4, 4);
  CHECK(cluster.Apply(full));  // Two other nodes appeared.
  CHECK(cluster.version() == 3);
  CHECK(cluster.epoch() == 77);
  cluster.UpdateNodes({Info("node-b", "10.0.0.2", 7001), Info("node-c", "10.0.0.3", 7002)});
  REQUIRE(cluster.Others().size() == 2);

  rpc::GetClusterResourcesReply delta;  // b is busier, nothing else changed.
  delta.set_version(4);
  delta.set_epoch(77);
  *delta.add_views() = View("node-b", 4, 1);
  CHECK_FALSE(cluster.Apply(delta));
  CHECK(cluster.version() == 4);
  for (const NodeView& node : cluster.Others()) {
    CHECK(node.available == ResourceSet::FromMap(View(node.node_id, 4, node.node_id == "node-b" ? 1 : 4).available()));
  }
  rpc::GetClusterResourcesReply gone;  // c died.
  gone.set_version(5);
  gone.set_epoch(77);
  gone.add_removed("node-c");
  CHECK(cluster.Apply(gone));
  REQUIRE(cluster.Others().size() == 1);
  CHECK(cluster.Others()[0].node_id == "node-b");
  CHECK_FALSE(cluster.RayletAddress("node-c"));

  rpc::GetClusterResourcesReply restart;  // Another GCS: everything again.
  restart.set_full(true);
  restart.set_version(1);
  restart.set_epoch(99);
  *restart.add_views() = View("node-d", 8, 8);
  CHECK(cluster.Apply(restart));
  CHECK(cluster.epoch() == 99);
  CHECK(cluster.NumOthers() == 1);
  CHECK(cluster.NeedsAddresses());  // node-d's raylet is not known yet.
}
