// WorkerPortAllocator, and the worker pool handing its ports to workers
// (over a fake launcher): two ports each, taken back when the process is
// reaped, other programs' ports skipped, and the full range's rules.
#include "raylet/worker_ports.h"

#include <catch2/catch.hpp>
#include <set>

#include "raylet/raylet_test_util.h"

using namespace lumen;
using namespace lumen::raylet;
using lumen::raylet::testing::PoolFixture;
using lumen::raylet::testing::TestPoolOptions;

namespace {

WorkerPorts PortsOf(const FakeProcessLauncher& launcher, pid_t pid) {
  return ParseWorkerPorts(launcher.started.at(pid).env.at(kWorkerPortsEnv)).value();
}

WorkerPoolOptions RangeOptions(int min_port, int max_port, std::function<bool(int)> free = nullptr) {
  WorkerPoolOptions options = TestPoolOptions(/*prestart=*/0);
  options.min_worker_port = min_port;
  options.max_worker_port = max_port;
  options.worker_port_is_free = std::move(free);
  return options;
}

}  // namespace

TEST_CASE("the allocator hands out pairs of the range, skips others' ports, reuses released ones last") {
  std::set<int> others = {20001};
  WorkerPortAllocator ports(20000, 20005, [&](int port) { return !others.count(port); });
  auto a = ports.Take();
  REQUIRE(a.has_value());
  CHECK(a->grpc == 20000);
  CHECK(a->task_channel == 20002);  // 20001 belongs to another program.
  ports.Assign(100, *a);
  auto b = ports.Take();
  REQUIRE(b.has_value());
  CHECK(b->grpc == 20003);
  CHECK(b->task_channel == 20004);
  ports.Assign(101, *b);
  CHECK_FALSE(ports.Take().has_value());  // Only 20005 is left.
  CHECK(ports.num_held() == 4);
  ports.ReleaseOf(100);
  auto c = ports.Take();
  REQUIRE(c.has_value());
  CHECK(c->grpc == 20005);  // From after the last port handed out.
  CHECK(c->task_channel == 20000);
  ports.GiveBack(*c);
  CHECK(ports.num_held() == 2);
  ports.ReleaseOf(999);  // Unknown pids change nothing.
  CHECK(ports.num_held() == 2);
}

TEST_CASE("without a range every worker gets any free port") {
  WorkerPortAllocator ports(0, 0, nullptr);
  CHECK_FALSE(ports.enabled());
  for (int i = 0; i < 100; ++i) {
    auto p = ports.Take();
    REQUIRE(p.has_value());
    CHECK(p->grpc == 0);
    CHECK(p->task_channel == 0);
  }
}

TEST_CASE("CheckWorkerPortRange and the LUMEN_WORKER_PORTS format") {
  CHECK(CheckWorkerPortRange(0, 0).ok());
  CHECK(CheckWorkerPortRange(20000, 20001).ok());
  CHECK_FALSE(CheckWorkerPortRange(20000, 20000).ok());
  CHECK_FALSE(CheckWorkerPortRange(20001, 20000).ok());
  CHECK_FALSE(CheckWorkerPortRange(0, 20000).ok());
  CHECK_FALSE(CheckWorkerPortRange(1, 65536).ok());
  auto ports = ParseWorkerPorts(FormatWorkerPorts({20000, 20001}));
  REQUIRE(ports.ok());
  CHECK(ports->grpc == 20000);
  CHECK(ports->task_channel == 20001);
  CHECK(ParseWorkerPorts("")->grpc == 0);
  CHECK_FALSE(ParseWorkerPorts("20000").ok());
  CHECK_FALSE(ParseWorkerPorts("a,b").ok());
  CHECK_FALSE(ParseWorkerPorts("1,70000").ok());
}

TEST_CASE("the pool gives each worker two ports of the range and takes them back when it is reaped") {
  PoolFixture f(0, RangeOptions(20000, 20003));
  f.AddJob(f.job, f.driver, f.driver_pid);
  REQUIRE(f.pool->EnsureStarting(f.job, 2).ok());
  REQUIRE(f.launcher.started.size() == 2);
  std::set<int> seen;
  for (const auto& [pid, options] : f.launcher.started) {
    WorkerPorts p = PortsOf(f.launcher, pid);
    for (int port : {p.grpc, p.task_channel}) {
      CHECK(port >= 20000);
      CHECK(port <= 20003);
      CHECK(seen.insert(port).second);
    }
  }
  f.RegisterStarted();
  // The range is full, but the job has workers of its own: it waits for them.
  CHECK(f.pool->EnsureStarting(f.job, 3).ok());
  CHECK(f.launcher.started.size() == 2);
  // A killed worker's ports stay taken until its process is reaped.
  const pid_t first = f.launcher.started.begin()->first;
  f.pool->KillWorker(f.IdOf(first), "test");
  CHECK(f.pool->EnsureStarting(f.job, 1).ok());
  CHECK(f.launcher.started.size() == 2);
  f.pool->ReapExited();
  REQUIRE(f.pool->EnsureStarting(f.job, 1).ok());
  REQUIRE(f.launcher.started.size() == 3);
  WorkerPorts reused = PortsOf(f.launcher, f.launcher.started.rbegin()->first);
  WorkerPorts freed = PortsOf(f.launcher, first);
  CHECK(std::set<int>{reused.grpc, reused.task_channel} == std::set<int>{freed.grpc, freed.task_channel});
}

TEST_CASE("a full range: an idle worker of another job makes room; a job without workers fails clearly") {
  PoolFixture f(0, RangeOptions(20000, 20001));
  const JobId other = JobId::FromInt(2);
  f.AddJob(other, WorkerId::FromRandom(), 78);
  REQUIRE(f.pool->EnsureStarting(other, 1).ok());
  f.AddJob(f.job, f.driver, f.driver_pid);
  SECTION("the other job's worker is idle: it is killed, and the start follows its reaping") {
    f.RegisterStarted();
    REQUIRE(f.pool->NumIdle() == 1);
    CHECK(f.pool->EnsureStarting(f.job, 1).ok());
    CHECK(f.launcher.killed.size() == 1);
    CHECK(f.pool->NumWorkers() == 0);
    f.pool->ReapExited();
    REQUIRE(f.pool->EnsureStarting(f.job, 1).ok());
    CHECK(f.launcher.started.size() == 2);
    CHECK(f.JobOf(f.launcher.started.rbegin()->first) == f.job);
  }
  SECTION("the other job's worker is busy: the job's leases fail with the documented error") {
    f.RegisterStarted();
    REQUIRE(f.pool->PopIdle(other) != nullptr);
    absl::Status st = f.pool->EnsureStarting(f.job, 1);
    CHECK(absl::IsResourceExhausted(st));
    const std::string message(st.message());
    INFO(message);
    CHECK(message.find("no free port for a worker of job " + f.job.Hex()) != std::string::npos);
    CHECK(message.find("20000-20001 (--min-worker-port/--max-worker-port)") != std::string::npos);
    CHECK(message.find("widen the range") != std::string::npos);
    CHECK(f.launcher.killed.empty());
  }
}

TEST_CASE("ports held by other programs are never handed out") {
  PoolFixture f(0, RangeOptions(20000, 20003, [](int port) { return port != 20000 && port != 20002; }));
  f.AddJob(f.job, f.driver, f.driver_pid);
  REQUIRE(f.pool->EnsureStarting(f.job, 1).ok());
  REQUIRE(f.launcher.started.size() == 1);
  WorkerPorts p = PortsOf(f.launcher, f.launcher.started.begin()->first);
  CHECK(std::set<int>{p.grpc, p.task_channel} == std::set<int>{20001, 20003});
  CHECK(f.pool->EnsureStarting(f.job, 2).ok());  // Full, but the job has a worker: it waits.
  CHECK(f.launcher.started.size() == 1);
}
