// TaskSubmitter driven by hand: fake raylet and workers, the loop polled on
// the test's thread, no sleeps.
#include "worker/task_submitter.h"

#include <catch2/catch.hpp>

#include "worker/fake_submitter_io.h"

using namespace lumen;
using namespace lumen::worker;

namespace {

struct Fixture {
  EventLoop loop;
  FakeLeaseClient leases;
  FakeTaskPusher pusher;
  WorkerId caller = WorkerId::FromRandom();
  rpc::Address caller_address = [] {
    rpc::Address a;
    a.set_port(4242);
    return a;
  }();
  std::vector<std::string> replied;  // Task names, in reply order.
  std::vector<std::pair<std::string, rpc::ErrorInfo>> failed;
  int new_shapes = 0;
  int64_t exempt = 0;  // Queued tasks exempt from backpressure (infeasible).
  FakeClock clock;  // Still unless a test moves it: no lease outlives its quantum.
  TaskSubmitter submitter{
      loop, leases, pusher,
      TaskSubmitter::Callbacks{
          [this](const rpc::TaskSpec& s, rpc::PushTaskReply&&, const rpc::PushTasksReply&) {
            replied.push_back(s.name());
          },
          [this](const rpc::TaskSpec& s, const rpc::ErrorInfo& e) { failed.emplace_back(s.name(), e); },
          [this](const rpc::TaskSpec&) { ++new_shapes; }},
      TaskSubmitter::Options{caller, caller_address, /*idle_lease_grace_ms=*/0,
                             /*lease_quantum_ms=*/100, &clock,
                             /*lease_request_attempts=*/3, /*lease_retry_base_ms=*/0,
                             [this](int64_t n) { exempt += n; }}};

  // Runs everything the loop has ready, timers that are due included.
  void Poll() {
    while (loop.io_context().poll() > 0) {
    }
  }
  void Submit(const std::string& name, int max_retries = 0, double cpus = 1) {
    submitter.Submit(Spec(name, max_retries, cpus));
    Poll();
  }
  static rpc::TaskSpec Spec(const std::string& name, int max_retries = 0, double cpus = 1) {
    rpc::TaskSpec spec;
    spec.set_task_id(TaskId::ForNormalTask(JobId::FromInt(1)).Binary());
    spec.set_name(name);
    spec.set_function_name("F");
    spec.set_max_retries(max_retries);
    (*spec.mutable_required_resources())["CPU"] = cpus;
    return spec;
  }
  std::vector<std::string> Names(const rpc::PushTasksRequest& request) {
    std::vector<std::string> names;
    for (const auto& t : request.tasks()) names.push_back(t.spec().name());
    return names;
  }
};

}  // namespace

TEST_CASE("a lease is requested per queued task, names its caller, and is reused while tasks queue") {
  Fixture f;
  f.Submit("a");
  f.Submit("b");
  f.Submit("c");
  CHECK(f.new_shapes == 1);
  REQUIRE(f.leases.requests.size() == 3);
  CHECK(f.leases.requests[0].request.caller_worker_id() == f.caller.Binary());
  CHECK(f.leases.requests[0].request.resources().at("CPU") == 1);
  f.leases.Grant(1, 1001);
  f.Poll();
  // Before any run time is known, one task per push.
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.Names(f.pusher.pushes[0].request) == std::vector<std::string>{"a"});
  // The owner of the returns travels once per push.
  CHECK(f.pusher.pushes[0].request.caller().port() == 4242);
  f.pusher.Reply("x");
  f.Poll();
  // The same lease takes the next task.
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.pusher.pushes[0].worker.port() == 1001);
  CHECK(f.Names(f.pusher.pushes[0].request) == std::vector<std::string>{"b"});
  f.pusher.Reply("x");
  f.Poll();
  f.pusher.Reply("x");
  f.Poll();
  CHECK(f.replied == std::vector<std::string>{"a", "b", "c"});
  // Idle with nothing queued: the lease goes back (grace 0).
  REQUIRE(f.leases.returns.size() == 1);
  CHECK(f.leases.returns[0].lease_id() == 1);
  CHECK_FALSE(f.leases.returns[0].worker_exiting());
  // Leases granted after the queue drained go straight back too.
  f.leases.Grant(2, 1002);
  f.leases.Grant(3, 1003);
  f.Poll();
  CHECK(f.leases.returns.size() == 3);
  CHECK(f.pusher.pushes.empty());
}

TEST_CASE("tiny tasks travel in batches once their run time is known") {
  Fixture f;
  f.Submit("first");
  f.leases.Grant(1, 1001);
  f.Poll();
  for (int i = 0; i < 200; ++i) f.Submit("t" + std::to_string(i));
  f.pusher.Reply("x", /*exec_micros=*/5);
  f.Poll();
  REQUIRE(f.pusher.pushes.size() == 1);
  // 200 queued, shared among the lease held and the 16 requests still open.
  CHECK(f.pusher.pushes[0].request.tasks_size() == 200 / 17);
}

TEST_CASE("a push to a dead worker is retried on a new lease, then fails with WORKER_DIED") {
  Fixture f;
  f.Submit("flaky", /*max_retries=*/1);
  f.leases.Grant(1, 1001);
  f.Poll();
  f.pusher.Fail();
  f.Poll();
  // The broken lease is returned as exiting and its worker forgotten.
  REQUIRE(f.leases.returns.size() == 1);
  CHECK(f.leases.returns[0].worker_exiting());
  REQUIRE(f.pusher.forgotten.size() == 1);
  CHECK(f.pusher.forgotten[0].port() == 1001);
  CHECK(f.failed.empty());
  // The retry asks for a new lease and runs there.
  REQUIRE_FALSE(f.leases.requests.empty());
  f.leases.Grant(2, 1002);
  f.Poll();
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.pusher.pushes[0].worker.port() == 1002);
  CHECK(f.pusher.pushes[0].request.tasks(0).spec().attempt() == 1);
  f.pusher.Fail();
  f.Poll();
  REQUIRE(f.failed.size() == 1);
  CHECK(f.failed[0].first == "flaky");
  CHECK(f.failed[0].second.type() == rpc::ErrorInfo::WORKER_DIED);
  CHECK_THAT(f.failed[0].second.message(), Catch::Contains("1 retries used"));
}

TEST_CASE("a refused lease does not fail tasks that a healthy lease will run") {
  Fixture f;
  f.Submit("a");
  f.Submit("b");
  REQUIRE(f.leases.requests.size() == 2);
  f.leases.Grant(1, 1001);
  f.Poll();
  f.leases.Refuse("out of workers");
  f.Poll();
  CHECK(f.failed.empty());
  f.pusher.Reply("x");
  f.Poll();
  f.pusher.Reply("x");
  f.Poll();
  CHECK(f.replied == std::vector<std::string>{"a", "b"});
  CHECK(f.failed.empty());
}

TEST_CASE("a refused lease fails the queued tasks when nothing else can run them") {
  Fixture f;
  f.Submit("lonely");
  REQUIRE(f.leases.requests.size() == 1);
  f.leases.Refuse("job finished");
  f.Poll();
  REQUIRE(f.failed.size() == 1);
  CHECK(f.failed[0].first == "lonely");
  CHECK_THAT(f.failed[0].second.message(), Catch::Contains("refused a worker lease: job finished"));
}

TEST_CASE("a failed lease request fails its tasks with the cause and what to do") {
  struct Case {
    absl::Status status;
    rpc::ErrorInfo::Type type;
    std::vector<std::string> said;
    std::string not_said;
  };
  const Case cases[] = {
      // The raylet died: not "refused".
      {absl::UnavailableError("raylet at 127.0.0.1:4321: failed to connect"),
       rpc::ErrorInfo::WORKER_DIED,
       {"unreachable", "died or was stopped", "127.0.0.1:4321", "lumen start"},
       "refused"},
      {absl::InvalidArgumentError("invalid resource request of F: resource \"CPU\": amount -1"),
       rpc::ErrorInfo::INVALID_REQUEST,
       {"\"CPU\": amount -1", "SetResource"},
       "unreachable"},
      {absl::UnauthenticatedError("raylet at 127.0.0.1:4321: bad token"),
       rpc::ErrorInfo::WORKER_DIED,
       {"cluster token"},
       "unreachable"},
  };
  for (const Case& c : cases) {
    Fixture f;
    f.Submit("t");
    REQUIRE(f.leases.requests.size() == 1);
    // A lost-looking failure is tried 3 times in all, then reported.
    const int attempts = absl::IsUnavailable(c.status) ? 3 : 1;
    for (int i = 0; i < attempts; ++i) {
      REQUIRE(f.leases.requests.size() == 1);
      f.leases.FailWith(c.status);
      f.Poll();
    }
    CHECK(f.leases.requests.empty());
    REQUIRE(f.failed.size() == 1);
    const rpc::ErrorInfo& error = f.failed[0].second;
    INFO(error.message());
    CHECK(error.type() == c.type);
    for (const std::string& part : c.said) CHECK_THAT(error.message(), Catch::Contains(part));
    CHECK_THAT(error.message(), !Catch::Contains(c.not_said));
  }
}

TEST_CASE("tasks of different resource shapes lease separately") {
  Fixture f;
  f.Submit("one-cpu", 0, 1);
  f.Submit("two-cpu", 0, 2);
  CHECK(f.new_shapes == 2);
  REQUIRE(f.leases.requests.size() == 2);
  CHECK(f.leases.requests[1].request.resources().at("CPU") == 2);
}

TEST_CASE("a lease held past its quantum goes back at a task boundary and a new one is asked for") {
  // So that the raylet can give the node to another job waiting
  // (docs/raylet.md, "Fair sharing"), even while this caller has work queued.
  Fixture f;
  f.Submit("a");
  f.Submit("b");
  f.Submit("c");
  REQUIRE(f.leases.requests.size() == 3);
  f.leases.Grant(1, 1001);
  f.Poll();
  REQUIRE(f.pusher.pushes.size() == 1);
  f.pusher.Reply("x");  // Within the quantum: reused at once.
  f.Poll();
  CHECK(f.leases.returns.empty());
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.Names(f.pusher.pushes[0].request) == std::vector<std::string>{"b"});
  f.clock.AdvanceMs(100);
  f.pusher.Reply("x");  // "b" ends past the quantum with "c" still queued.
  f.Poll();
  REQUIRE(f.leases.returns.size() == 1);
  CHECK(f.leases.returns[0].lease_id() == 1);
  CHECK_FALSE(f.leases.returns[0].worker_exiting());
  CHECK(f.pusher.pushes.empty());  // Not pushed to the returned lease.
  f.leases.Grant(2, 1002);  // One of the requests still open.
  f.Poll();
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.pusher.pushes[0].worker.port() == 1002);
  CHECK(f.Names(f.pusher.pushes[0].request) == std::vector<std::string>{"c"});
  f.pusher.Reply("x");
  f.Poll();
  CHECK(f.replied == std::vector<std::string>{"a", "b", "c"});
}

TEST_CASE("a lease request whose reply is lost is sent again with the same request id") {
  Fixture f;
  f.Submit("a");
  REQUIRE(f.leases.requests.size() == 1);
  const int64_t id = f.leases.requests[0].request.request_id();
  CHECK(id != 0);
  f.leases.FailWith(absl::UnavailableError("injected fault: reply of RequestWorkerLease dropped"));
  f.Poll();
  REQUIRE(f.leases.requests.size() == 1);  // The same request, again.
  CHECK(f.leases.requests[0].request.request_id() == id);
  CHECK(f.failed.empty());
  f.leases.Grant(1, 1001);
  f.Poll();
  REQUIRE(f.pusher.pushes.size() == 1);
  f.pusher.Reply("x");
  f.Poll();
  CHECK(f.replied == std::vector<std::string>{"a"});
  // A new request gets a new id.
  f.Submit("b");
  f.Submit("c");
  for (const auto& r : f.leases.requests) CHECK(r.request.request_id() != id);
}

TEST_CASE("a spilled lease request goes to the raylet named, and its lease goes back there") {
  Fixture f;
  f.Submit("a", /*max_retries=*/1);
  REQUIRE(f.leases.requests.size() == 1);
  CHECK(f.leases.requests[0].raylet.empty());  // The local raylet first.
  const int64_t request_id = f.leases.requests[0].request.request_id();
  f.leases.Spill("10.0.0.2", 7001);
  f.Poll();
  REQUIRE(f.leases.requests.size() == 1);
  CHECK(f.leases.requests[0].raylet == "10.0.0.2:7001");
  CHECK(f.leases.requests[0].request.grant_or_reject());  // Not spilled again.
  CHECK(f.leases.requests[0].request.request_id() == request_id);
  f.leases.Grant(5, 1001);  // Lease 5 of the other raylet.
  f.Poll();
  REQUIRE(f.pusher.pushes.size() == 1);
  // The worker dies (its node died): the task is retried through the local
  // raylet, and the dead lease goes back to the raylet that granted it.
  f.pusher.Fail();
  f.Poll();
  REQUIRE(f.leases.returns.size() == 1);
  CHECK(f.leases.returns[0].lease_id() == 5);
  CHECK(f.leases.return_raylets[0] == "10.0.0.2:7001");
  CHECK(f.leases.returns[0].worker_exiting());
  REQUIRE(f.leases.requests.size() == 1);
  CHECK(f.leases.requests[0].raylet.empty());
  f.leases.Grant(5, 1002);  // The local raylet's lease 5: another lease.
  f.Poll();
  f.pusher.Reply("x");
  f.Poll();
  CHECK(f.replied == std::vector<std::string>{"a"});
  CHECK(f.failed.empty());
}

TEST_CASE("a spilled request whose raylet is unreachable goes back to the local raylet") {
  Fixture f;
  f.Submit("a");
  f.leases.Spill("10.0.0.3", 7002);
  f.Poll();
  for (int attempt = 0; attempt < 3; ++attempt) {
    REQUIRE(f.leases.requests.size() == 1);
    CHECK(f.leases.requests[0].raylet == "10.0.0.3:7002");
    f.leases.FailWith(absl::UnavailableError("connection refused"));
    f.Poll();
  }
  REQUIRE(f.leases.requests.size() == 1);
  CHECK(f.leases.requests[0].raylet.empty());
  CHECK_FALSE(f.leases.requests[0].request.grant_or_reject());
  CHECK(f.failed.empty());
}

TEST_CASE("a task's scheduling strategy is part of its shape and travels in the lease request") {
  Fixture f;
  f.Submit("plain");
  rpc::TaskSpec spec;
  spec.set_task_id(TaskId::ForNormalTask(JobId::FromInt(1)).Binary());
  spec.set_name("spread");
  spec.set_function_name("F");
  (*spec.mutable_required_resources())["CPU"] = 1;
  spec.mutable_scheduling_strategy()->set_kind(rpc::SchedulingStrategy::SPREAD);
  f.submitter.Submit(std::move(spec));
  f.Poll();
  CHECK(f.new_shapes == 2);
  REQUIRE(f.leases.requests.size() == 2);
  CHECK_FALSE(f.leases.requests[0].request.has_scheduling_strategy());
  CHECK(f.leases.requests[1].request.scheduling_strategy().kind() ==
        rpc::SchedulingStrategy::SPREAD);
}

TEST_CASE("tasks of a shape no node has are exempt from backpressure until a lease is granted") {
  Fixture f;
  f.Submit("a", 0, 64);
  f.Submit("b", 0, 64);
  CHECK(f.exempt == 0);  // Not known infeasible yet: they count.
  f.submitter.MarkInfeasible(Fixture::Spec("any", 0, 64));
  CHECK(f.exempt == 2);
  f.Submit("c", 0, 64);
  CHECK(f.exempt == 3);
  // Another shape is not affected.
  f.Submit("small", 0, 1);
  CHECK(f.exempt == 3);
  // A node with 64 CPUs joined: the raylet grants a lease of the shape, and
  // its tasks count again as they wait for it.
  REQUIRE(f.leases.requests.size() == 4);
  f.leases.Grant(1, 1001);
  f.Poll();
  CHECK(f.exempt == 0);
  // Marking it again while a lease is held changes nothing.
  f.submitter.MarkInfeasible(Fixture::Spec("any", 0, 64));
  CHECK(f.exempt == 0);
}

TEST_CASE("failing the queued tasks of an infeasible shape counts them out of the exemption") {
  Fixture f;
  f.Submit("a", 0, 64);
  f.submitter.MarkInfeasible(Fixture::Spec("any", 0, 64));
  CHECK(f.exempt == 1);
  f.leases.Refuse("job finished");
  f.Poll();
  REQUIRE(f.failed.size() == 1);
  CHECK(f.exempt == 0);
}
