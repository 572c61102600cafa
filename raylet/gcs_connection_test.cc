// Unit tests of GcsConnection's state machine with a fake GCS client whose
// replies the test releases by hand, and a fake clock.
#include "raylet/gcs_connection.h"
#include "raylet/fake_gcs_client.h"

#include <catch2/catch.hpp>
#include <deque>

using namespace lumen;
using namespace lumen::raylet;

namespace {

struct Fixture {
  explicit Fixture(std::function<std::vector<rpc::JobInfo>()> live_jobs = nullptr) {
    rpc::NodeInfo node;
    node.set_node_id(NodeId::FromRandom().Binary());
    node.set_ip("10.0.0.9");
    node.set_raylet_port(7001);
    GcsConnectionOptions options;
    options.gcs_address = "127.0.0.1:1";
    options.connect_timeout_ms = 1000;
    options.live_jobs = std::move(live_jobs);
    connection = std::make_unique<GcsConnection>(
        gcs, clock, node, options, [this](const std::string& m) { fatal.push_back(m); });
    view.set_node_id(node.node_id());
    (*view.mutable_available())["CPU"] = 4;
  }
  // Advances time in 100 ms ticks, as the daemon does.
  void Run(int64_t ms) {
    for (int64_t t = 0; t < ms; t += 100) {
      clock.AdvanceMs(100);
      connection->Tick(view);
    }
  }

  FakeGcsClient gcs;
  FakeClock clock;
  std::unique_ptr<GcsConnection> connection;
  std::vector<std::string> fatal;
  rpc::ResourceView view;
};

const absl::Status kDown = absl::UnavailableError("connection refused");

}  // namespace

TEST_CASE("registers, then reports at least every second and on change") {
  Fixture f;
  f.connection->Start();
  CHECK(f.gcs.registers == 1);
  f.gcs.AnswerRegister(absl::OkStatus());
  CHECK(f.connection->state() == GcsConnection::State::kRegistered);
  f.Run(100);
  REQUIRE(f.gcs.reports.size() == 1);
  f.gcs.AnswerReport(absl::OkStatus());
  f.Run(900);  // Unchanged: nothing until a second has passed.
  CHECK(f.gcs.reports.size() == 1);
  f.Run(100);
  REQUIRE(f.gcs.reports.size() == 2);
  f.gcs.AnswerReport(absl::OkStatus());
  (*f.view.mutable_available())["CPU"] = 3;
  f.Run(100);
  CHECK(f.gcs.reports.size() == 2);  // Changed, but the last report is only 100 ms old.
  f.Run(100);
  REQUIRE(f.gcs.reports.size() == 3);
  CHECK(f.gcs.reports.back().available().at("CPU") == 3);
}

TEST_CASE("a GCS never reached ends in one clear message after the timeout") {
  Fixture f;
  f.connection->Start();
  for (int i = 0; i < 20 && f.fatal.empty(); ++i) {
    if (f.gcs.pending_register) f.gcs.AnswerRegister(kDown);
    f.Run(100);
  }
  REQUIRE(f.fatal.size() == 1);
  CHECK(f.fatal[0] == "cannot reach GCS at 127.0.0.1:1 after 1s");
  CHECK(f.gcs.registers >= 4);  // Retried every 200 ms meanwhile.
  CHECK(f.gcs.last_timeout_ms <= 1000);
  f.Run(5000);
  CHECK(f.fatal.size() == 1);
  CHECK(f.connection->state() == GcsConnection::State::kGaveUp);
}

TEST_CASE("a GCS refusing our token is fatal at once") {
  Fixture f;
  f.connection->Start();
  f.gcs.AnswerRegister(absl::UnauthenticatedError("missing or wrong cluster token"));
  REQUIRE(f.fatal.size() == 1);
  CHECK(
      f.fatal[0].find("the GCS at 127.0.0.1:1 refused this node: missing or wrong cluster token") !=
      std::string::npos);
  f.Run(2000);
  CHECK(f.fatal.size() == 1);
  CHECK(f.gcs.registers == 1);
}

TEST_CASE("a late first registration within the timeout is fine") {
  Fixture f;
  f.connection->Start();
  f.gcs.AnswerRegister(kDown);
  f.Run(800);
  f.gcs.AnswerRegister(absl::OkStatus());
  f.Run(2000);
  CHECK(f.fatal.empty());
  CHECK(f.connection->state() == GcsConnection::State::kRegistered);
}

TEST_CASE("a lost GCS is retried forever once registered, and unknown_node re-registers") {
  Fixture f;
  f.connection->Start();
  f.gcs.AnswerRegister(absl::OkStatus());
  for (int i = 0; i < 30; ++i) {  // 30 s of GCS down time.
    f.Run(1000);
    if (f.gcs.pending_report) f.gcs.AnswerReport(kDown);
  }
  CHECK(f.fatal.empty());
  CHECK(f.gcs.reports.size() >= 30);
  // The GCS is back but lost its state.
  f.Run(1000);
  f.gcs.AnswerReport(absl::OkStatus(), /*unknown=*/true);
  CHECK(f.connection->state() == GcsConnection::State::kReregistering);
  int registers = f.gcs.registers;
  f.Run(100);
  CHECK(f.gcs.registers == registers + 1);
  f.gcs.AnswerRegister(absl::OkStatus());
  CHECK(f.connection->state() == GcsConnection::State::kRegistered);
  size_t reports = f.gcs.reports.size();
  f.Run(100);
  CHECK(f.gcs.reports.size() == reports + 1);  // Reports again right away.
}

TEST_CASE("every registration reports the jobs of the node's drivers as they are then") {
  std::vector<rpc::JobInfo> jobs;
  Fixture f([&] { return jobs; });
  f.connection->Start();
  CHECK(f.gcs.last_register.live_jobs_size() == 0);
  f.gcs.AnswerRegister(absl::OkStatus());
  rpc::JobInfo job;
  job.set_job_id(JobId::FromInt(7).Binary());
  job.set_driver_pid(4242);
  jobs.push_back(job);
  // A GCS restarted without Redis: it does not know the node, nor job 7.
  f.Run(1000);
  f.gcs.AnswerReport(absl::OkStatus(), /*unknown=*/true);
  f.Run(100);
  REQUIRE(f.gcs.last_register.live_jobs_size() == 1);
  CHECK(f.gcs.last_register.live_jobs(0).job_id() == JobId::FromInt(7).Binary());
  CHECK(f.gcs.last_register.live_jobs(0).driver_pid() == 4242);
  CHECK(f.gcs.last_register.node().node_id() == f.view.node_id());
}

TEST_CASE("unregistering is best effort and only once registered") {
  Fixture f;
  f.connection->Start();
  f.connection->Unregister("stopping", 100);
  CHECK(f.gcs.unregister_reason.empty());
  f.gcs.AnswerRegister(absl::OkStatus());
  f.connection->Unregister("stopping", 100);
  CHECK(f.gcs.unregister_reason == "stopping");
}

namespace {

// Registers, then answers `cycles` reports with unknown_node while the GCS
// lists this node as `death_cause`; re-registers in between unless fatal.
void DeclaredDead(Fixture& f, const std::string& death_cause, int cycles, int64_t ms_between = 0) {
  rpc::NodeInfo dead = f.connection->node();
  dead.set_state(rpc::NodeInfo::DEAD);
  dead.set_death_cause(death_cause);
  f.gcs.all_nodes = {dead};
  f.gcs.serve_nodes = true;
  for (int i = 0; i < cycles && f.fatal.empty(); ++i) {
    f.Run(100);
    REQUIRE(f.gcs.pending_report);
    f.gcs.AnswerReport(absl::OkStatus(), /*unknown=*/true);
    if (!f.fatal.empty()) break;
    CHECK(f.connection->state() == GcsConnection::State::kReregistering);
    f.Run(100);
    f.gcs.AnswerRegister(absl::OkStatus());
    f.Run(ms_between);
  }
}

}  // namespace

TEST_CASE("a node the GCS keeps declaring dead for failed health checks stops, saying why") {
  Fixture f;
  f.connection->Start();
  f.gcs.AnswerRegister(absl::OkStatus());
  DeclaredDead(f, "health check failed", 3);
  CHECK(f.gcs.node_lists == 3);
  REQUIRE(f.fatal.size() == 1);
  CHECK_THAT(f.fatal[0], Catch::Contains("cannot reach this raylet at 10.0.0.9:7001"));
  CHECK_THAT(f.fatal[0], Catch::Contains("--node-ip-address"));
  CHECK(f.connection->state() == GcsConnection::State::kGaveUp);
}

TEST_CASE("a node declared dead now and then, or forgotten by a restarted GCS, registers again") {
  Fixture once;
  once.connection->Start();
  once.gcs.AnswerRegister(absl::OkStatus());
  DeclaredDead(once, "health check failed", 5, /*ms_between=*/70000);  // Once a minute: a slow node.
  CHECK(once.fatal.empty());
  CHECK(once.connection->state() == GcsConnection::State::kRegistered);

  Fixture forgotten;  // A GCS without Redis, restarted: this node is not in its list.
  forgotten.connection->Start();
  forgotten.gcs.AnswerRegister(absl::OkStatus());
  DeclaredDead(forgotten, "unregistered", 5);
  CHECK(forgotten.fatal.empty());
  CHECK(forgotten.connection->state() == GcsConnection::State::kRegistered);
}
