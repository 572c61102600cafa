// HealthChecker with a FakeClock and a FakeProber: the test plays both the
// passing of time and the raylets' answers.
#include "gcs/health_checker.h"

#include <catch2/catch.hpp>

#include "gcs/test_util.h"

using namespace lumen;
using namespace lumen::gcs;
using lumen::gcs::testing::FakeProber;
using lumen::gcs::testing::MakeNode;

namespace {

struct Fixture {
  FakeClock clock{0};
  FakeProber prober;
  std::vector<std::string> dead;
  HealthChecker checker{prober, clock, HealthCheckOptions{1000, 1000, 3},
                        [this](const std::string& id) { dead.push_back(id); }};
  rpc::NodeInfo node = MakeNode();

  Fixture() { checker.OnNodeChange(node); }

  // One period: tick, answer the probe after `latency_ms` with `status`.
  void Round(absl::Status status, int64_t latency_ms = 5) {
    checker.Tick();
    REQUIRE(prober.pending.size() == 1);
    clock.AdvanceMs(latency_ms);
    prober.AnswerNext(status);
    clock.AdvanceMs(1000 - latency_ms);
  }
};

}  // namespace

TEST_CASE("a raylet failing threshold checks in a row is declared dead once") {
  Fixture f;
  f.Round(absl::UnavailableError("connection refused"));
  f.Round(absl::UnavailableError("connection refused"));
  CHECK(f.dead.empty());
  f.Round(absl::UnavailableError("connection refused"));
  REQUIRE(f.dead == std::vector<std::string>{f.node.node_id()});
  CHECK(f.clock.MonotonicMs() <= 3000);  // Dead within a few seconds.
  f.checker.Tick();
  CHECK(f.prober.pending.empty());  // No more probes for a dead node.
}

TEST_CASE("a busy raylet answering within the timeout is never declared dead") {
  Fixture f;
  for (int i = 0; i < 20; ++i) f.Round(absl::OkStatus(), /*latency_ms=*/950);
  CHECK(f.dead.empty());
  f.checker.Tick();
  REQUIRE(f.prober.pending.size() == 1);
  CHECK(f.prober.pending.front().timeout_ms == 1000);
}

TEST_CASE("a success resets the failure count") {
  Fixture f;
  f.Round(absl::DeadlineExceededError("slow"));
  f.Round(absl::DeadlineExceededError("slow"));
  f.Round(absl::OkStatus());
  f.Round(absl::DeadlineExceededError("slow"));
  f.Round(absl::DeadlineExceededError("slow"));
  CHECK(f.dead.empty());
  CHECK(f.checker.policy().ConsecutiveFailures(f.node.node_id()) == 2);
}

TEST_CASE("probes that never answer count as failures at the timeout") {
  Fixture f;
  for (int i = 0; i < 3; ++i) {
    f.checker.Tick();
    f.clock.AdvanceMs(1001);
  }
  CHECK(f.dead.empty());
  f.checker.Tick();  // Expires the third probe.
  CHECK(f.dead == std::vector<std::string>{f.node.node_id()});
  f.prober.AnswerAll(absl::OkStatus());  // Late answers change nothing.
  CHECK(f.dead.size() == 1);
}

TEST_CASE("dead nodes are forgotten and re-registered nodes start afresh") {
  Fixture f;
  f.Round(absl::UnavailableError("down"));
  f.Round(absl::UnavailableError("down"));
  rpc::NodeInfo dead = f.node;
  dead.set_state(rpc::NodeInfo::DEAD);
  f.checker.OnNodeChange(dead);
  CHECK(f.prober.forgotten == std::vector<std::string>{f.node.node_id()});
  f.checker.Tick();
  CHECK(f.prober.pending.empty());
  f.checker.OnNodeChange(f.node);  // Alive again.
  f.Round(absl::UnavailableError("down"));
  f.Round(absl::UnavailableError("down"));
  CHECK(f.dead.empty());
}
