#include "gcs/health_check_policy.h"

#include <catch2/catch.hpp>

using namespace lumen::gcs;

namespace {

HealthCheckOptions Defaults() { return HealthCheckOptions{1000, 1000, 3}; }

// Probes "n" at `now` and answers after `latency` with `ok`; returns whether
// the node is then dead.
bool ProbeOnce(HealthCheckPolicy& policy, int64_t now, int64_t latency, bool ok) {
  auto due = policy.TakeDueProbes(now);
  REQUIRE(due.size() == 1);
  return policy.OnProbeResult("n", due[0].probe_id, ok, now + latency);
}

}  // namespace

TEST_CASE("a new node is probed at once, then every period, one probe at a time") {
  HealthCheckPolicy policy(Defaults());
  policy.AddNode("n", 0);
  auto first = policy.TakeDueProbes(0);
  REQUIRE(first.size() == 1);
  CHECK(policy.TakeDueProbes(500).empty());  // In flight.
  CHECK_FALSE(policy.OnProbeResult("n", first[0].probe_id, true, 10));
  CHECK(policy.TakeDueProbes(999).empty());  // Not due yet.
  CHECK(policy.TakeDueProbes(1000).size() == 1);
}

TEST_CASE("failed probes: dead exactly at the threshold") {
  struct Case {
    int failures_before_success;
    int failures_after;
    bool dead;
  };
  auto c = GENERATE(Case{0, 2, false}, Case{0, 3, true}, Case{2, 2, false}, Case{2, 3, true});
  HealthCheckPolicy policy(Defaults());
  policy.AddNode("n", 0);
  int64_t now = 0;
  for (int i = 0; i < c.failures_before_success; ++i, now += 1000) {
    REQUIRE_FALSE(ProbeOnce(policy, now, 5, false));
  }
  REQUIRE_FALSE(ProbeOnce(policy, now, 5, true));  // A success resets the count.
  CHECK(policy.ConsecutiveFailures("n") == 0);
  now += 1000;
  bool dead = false;
  for (int i = 0; i < c.failures_after; ++i, now += 1000) dead = ProbeOnce(policy, now, 5, false);
  CHECK(dead == c.dead);
  CHECK(policy.Tracks("n") == !c.dead);
}

TEST_CASE("a slow answer within the timeout is a success; past it, a failure") {
  HealthCheckPolicy policy(Defaults());
  policy.AddNode("n", 0);
  int64_t now = 0;
  for (int i = 0; i < 10; ++i, now += 1000) REQUIRE_FALSE(ProbeOnce(policy, now, 1000, true));
  CHECK(policy.ConsecutiveFailures("n") == 0);
  REQUIRE_FALSE(ProbeOnce(policy, now, 1001, true));
  CHECK(policy.ConsecutiveFailures("n") == 1);
}

TEST_CASE("unanswered probes expire after the timeout and late answers are ignored") {
  HealthCheckPolicy policy(Defaults());
  policy.AddNode("n", 0);
  auto probe = policy.TakeDueProbes(0);
  CHECK(policy.ExpireProbes(1000).empty());  // Exactly at the timeout: still fine.
  CHECK(policy.ExpireProbes(1001).empty());  // Failure 1, not dead yet.
  CHECK(policy.ConsecutiveFailures("n") == 1);
  CHECK_FALSE(policy.OnProbeResult("n", probe[0].probe_id, true, 1200));  // Too late.
  CHECK(policy.ConsecutiveFailures("n") == 1);
  policy.TakeDueProbes(1001);
  CHECK(policy.ExpireProbes(2002).empty());
  policy.TakeDueProbes(2002);
  CHECK(policy.ExpireProbes(3003) == std::vector<std::string>{"n"});
  CHECK_FALSE(policy.Tracks("n"));
}

TEST_CASE("re-adding a node forgets its failures") {
  HealthCheckPolicy policy(Defaults());
  policy.AddNode("n", 0);
  REQUIRE_FALSE(ProbeOnce(policy, 0, 5, false));
  REQUIRE_FALSE(ProbeOnce(policy, 1000, 5, false));
  policy.AddNode("n", 2000);
  CHECK(policy.ConsecutiveFailures("n") == 0);
  REQUIRE_FALSE(ProbeOnce(policy, 2000, 5, false));
  CHECK(policy.Tracks("n"));
}
