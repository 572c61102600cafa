// Unit tests of LeaseManager's grant policy, over a real WorkerPool with a
// fake launcher: grants, queueing, infeasible requests, returns, blocked
// workers, deaths and cancellations, GPU indices.
#include "raylet/lease_manager.h"

#include <catch2/catch.hpp>
#include <algorithm>
#include <optional>

#include "raylet/raylet_test_util.h"

using namespace lumen;
using namespace lumen::raylet;

namespace {

ResourceSet Res(std::map<std::string, double> m) { return ResourceSet::FromMap(m); }

struct Fixture : testing::PoolFixture {
  explicit Fixture(double cpus, int prestart = 0, double gpus = 1)
      : PoolFixture(prestart), leases(*pool, Res({{"CPU", cpus}, {"GPU", gpus}})) {
    AddJob(job, driver, driver_pid);
  }

  // Sends a request; the returned slot fills when it is answered.
  std::shared_ptr<std::optional<LeaseReply>> Request(std::map<std::string, double> shape,
                                                     WorkerId caller = WorkerId::Nil(),
                                                     JobId for_job = JobId::Nil()) {
    auto slot = std::make_shared<std::optional<LeaseReply>>();
    LeaseRequest request;
    request.job = for_job.IsNil() ? job : for_job;
    request.resources = Res(shape);
    request.function_name = "Work";
    request.caller = caller;
    request.reply = [slot](const LeaseReply& reply) {
      REQUIRE_FALSE(slot->has_value());  // Exactly one reply.
      *slot = reply;
    };
    leases.RequestLease(std::move(request));
    return slot;
  }
  // Registers started workers and lets the manager grant.
  void WorkersRegister() {
    RegisterStarted();
    leases.Schedule();
  }
  double AvailableCpu() const { return leases.resources().available().Get("CPU"); }

  LeaseManager leases;
};

}  // namespace

TEST_CASE("a request is granted at once when an idle worker exists") {
  Fixture f(2, /*prestart=*/1);
  f.WorkersRegister();
  auto reply = f.Request({{"CPU", 1}});
  REQUIRE(reply->has_value());
  CHECK((*reply)->granted);
  const WorkerInfo* worker = f.pool->Get((*reply)->worker_id);
  REQUIRE(worker != nullptr);
  CHECK(worker->state == WorkerState::kLeased);
  CHECK((*reply)->worker_port == worker->port);
  CHECK((*reply)->worker_pid == worker->pid);
  CHECK(f.AvailableCpu() == 1);
  CHECK(f.leases.NumLeases() == 1);
}

TEST_CASE("resources that fit without an idle worker start one and grant on registration") {
  Fixture f(2);
  auto reply = f.Request({{"CPU", 1}});
  CHECK_FALSE(reply->has_value());
  CHECK(f.pool->NumStarting() == 1);
  CHECK(f.leases.NumPending() == 1);
  f.WorkersRegister();
  REQUIRE(reply->has_value());
  CHECK((*reply)->granted);
  CHECK(f.leases.NumPending() == 0);
}

TEST_CASE("requests queue while resources are busy; a return grants the next in order") {
  Fixture f(1, 1);
  f.WorkersRegister();
  auto first = f.Request({{"CPU", 1}});
  auto second = f.Request({{"CPU", 1}});
  auto third = f.Request({{"CPU", 1}});
  REQUIRE(first->has_value());
  CHECK_FALSE(second->has_value());
  CHECK(f.pool->NumStarting() == 0);  // No CPU for them: no point starting workers.
  CHECK(f.leases.NumPending() == 2);
  REQUIRE(f.leases.ReturnLease((*first)->lease_id, false).ok());
  REQUIRE(second->has_value());
  CHECK((*second)->worker_id == (*first)->worker_id);  // The worker is reused.
  CHECK_FALSE(third->has_value());
  CHECK(f.AvailableCpu() == 0);
  REQUIRE(f.leases.ReturnLease((*second)->lease_id, false).ok());
  REQUIRE(third->has_value());
  REQUIRE(f.leases.ReturnLease((*third)->lease_id, false).ok());
  CHECK(f.AvailableCpu() == 1);
  CHECK(absl::IsNotFound(f.leases.ReturnLease((*third)->lease_id, false)));
}

TEST_CASE("infeasible requests stay pending and never block feasible ones") {
  Fixture f(2, 1);
  f.WorkersRegister();
  auto too_big = f.Request({{"CPU", 3}});
  auto no_such = f.Request({{"TPU", 1}});
  auto fine = f.Request({{"CPU", 1}});
  CHECK_FALSE(too_big->has_value());
  CHECK_FALSE(no_such->has_value());
  REQUIRE(fine->has_value());
  CHECK(f.leases.NumPending() == 2);
  REQUIRE(f.leases.ReturnLease((*fine)->lease_id, false).ok());
  CHECK_FALSE(too_big->has_value());
  // The job's end answers them.
  f.leases.RejectJobRequests(f.job, "job finished");
  REQUIRE(too_big->has_value());
  CHECK_FALSE((*too_big)->granted);
  CHECK((*too_big)->error == "job finished");
  CHECK(f.leases.NumPending() == 0);
}

TEST_CASE("requests of an unknown job are rejected") {
  Fixture f(2);
  auto reply = f.Request({{"CPU", 1}}, WorkerId::Nil(), JobId::FromInt(42));
  REQUIRE(reply->has_value());
  CHECK_FALSE((*reply)->granted);
  CHECK((*reply)->error.find("not known to this raylet") != std::string::npos);
}

TEST_CASE("a returned broken worker is killed and its resources come back") {
  Fixture f(1, 1);
  f.WorkersRegister();
  auto reply = f.Request({{"CPU", 1}});
  pid_t pid = (*reply)->worker_pid;
  REQUIRE(f.leases.ReturnLease((*reply)->lease_id, /*kill_worker=*/true).ok());
  CHECK(f.launcher.killed.back().first == pid);
  CHECK(f.pool->Get((*reply)->worker_id) == nullptr);
  CHECK(f.AvailableCpu() == 1);
}

TEST_CASE("a blocked worker gives its CPU back so a queued lease runs") {
  Fixture f(1, 1);
  f.WorkersRegister();
  auto outer = f.Request({{"CPU", 1}});
  auto nested = f.Request({{"CPU", 1}});
  CHECK_FALSE(nested->has_value());
  f.leases.SetBlocked((*outer)->worker_id, true);
  CHECK(f.AvailableCpu() == 1);
  CHECK(f.pool->NumStarting() == 1);  // A second worker for the nested task.
  f.WorkersRegister();
  REQUIRE(nested->has_value());
  CHECK((*nested)->granted);
  CHECK(f.AvailableCpu() == 0);
  f.leases.SetBlocked((*outer)->worker_id, true);  // Repeated: no double release.
  CHECK(f.AvailableCpu() == 0);
  // Unblocking takes the CPU back even though that oversubscribes.
  f.leases.SetBlocked((*outer)->worker_id, false);
  CHECK(f.AvailableCpu() == -1);
  REQUIRE(f.leases.ReturnLease((*nested)->lease_id, false).ok());
  REQUIRE(f.leases.ReturnLease((*outer)->lease_id, false).ok());
  CHECK(f.AvailableCpu() == 1);
}

TEST_CASE("returning a lease while blocked releases only what it still holds") {
  Fixture f(2, 1);
  f.WorkersRegister();
  auto lease = f.Request({{"CPU", 1}, {"GPU", 1}});
  f.leases.SetBlocked((*lease)->worker_id, true);
  CHECK(f.AvailableCpu() == 2);
  CHECK(f.leases.resources().available().Get("GPU") == 0);  // Only the CPU is lent.
  REQUIRE(f.leases.ReturnLease((*lease)->lease_id, false).ok());
  CHECK(f.leases.resources().available() == f.leases.resources().total());
}

TEST_CASE("a dead worker's lease is released and the next request runs") {
  Fixture f(1, 1);
  f.WorkersRegister();
  auto first = f.Request({{"CPU", 1}});
  auto second = f.Request({{"CPU", 1}});
  f.launcher.Exit((*first)->worker_pid, "killed by signal 9 (SIGKILL)");
  for (const DeadWorker& dead : f.pool->ReapExited()) f.leases.OnWorkerGone(dead.id);
  CHECK(f.leases.NumLeases() == 0);
  CHECK(f.AvailableCpu() == 1);
  CHECK(f.pool->NumStarting() == 1);
  f.WorkersRegister();
  REQUIRE(second->has_value());
  CHECK((*second)->granted);
}

TEST_CASE("when a caller dies its leases are revoked and its queued requests dropped") {
  Fixture f(1, 1);
  f.WorkersRegister();
  WorkerId caller = WorkerId::FromRandom();
  auto held = f.Request({{"CPU", 1}}, caller);
  auto queued = f.Request({{"CPU", 1}}, caller);
  auto other = f.Request({{"CPU", 1}});
  f.leases.OnWorkerGone(caller);
  CHECK(f.launcher.killed.back().first == (*held)->worker_pid);
  REQUIRE(queued->has_value());
  CHECK_FALSE((*queued)->granted);
  CHECK_FALSE(other->has_value());  // Needs a new worker now.
  f.WorkersRegister();
  REQUIRE(other->has_value());
  CHECK((*other)->granted);
}

TEST_CASE("cancelled requests are skipped") {
  Fixture f(1, 1);
  f.WorkersRegister();
  auto first = f.Request({{"CPU", 1}});
  bool cancelled = false;
  std::optional<LeaseReply> answer;
  LeaseRequest request;
  request.job = f.job;
  request.resources = Res({{"CPU", 1}});
  request.is_cancelled = [&] { return cancelled; };
  request.reply = [&](const LeaseReply& r) { answer = r; };
  f.leases.RequestLease(std::move(request));
  auto after = f.Request({{"CPU", 1}});
  cancelled = true;
  REQUIRE(f.leases.ReturnLease((*first)->lease_id, false).ok());
  REQUIRE(answer.has_value());
  CHECK_FALSE(answer->granted);
  REQUIRE(after->has_value());
  CHECK((*after)->granted);
}

TEST_CASE("a job whose workers cannot start gets its waiting requests rejected") {
  Fixture f(2);
  f.launcher.FailStarts(absl::NotFoundError("cannot execute /home/user/my_driver"));
  auto reply = f.Request({{"CPU", 1}});
  REQUIRE(reply->has_value());
  CHECK_FALSE((*reply)->granted);
  CHECK((*reply)->error.find("cannot execute /home/user/my_driver") != std::string::npos);
  CHECK(f.leases.NumPending() == 0);
}

TEST_CASE("different shapes do not block each other") {
  Fixture f(2, 2);
  f.WorkersRegister();
  auto gpu = f.Request({{"CPU", 1}, {"GPU", 1}});
  auto gpu_again = f.Request({{"CPU", 1}, {"GPU", 1}});
  auto cpu = f.Request({{"CPU", 1}});
  REQUIRE(gpu->has_value());
  CHECK_FALSE(gpu_again->has_value());
  REQUIRE(cpu->has_value());
  CHECK((*cpu)->granted);
}

TEST_CASE("thousands of leases flow through a few workers") {
  Fixture f(4, 4);
  f.WorkersRegister();
  std::vector<std::shared_ptr<std::optional<LeaseReply>>> replies;
  for (int i = 0; i < 5000; ++i) replies.push_back(f.Request({{"CPU", 1}}));
  size_t returned = 0;
  for (size_t i = 0; i < replies.size(); ++i) {
    REQUIRE(replies[i]->has_value());  // FIFO: the oldest is always granted first.
    REQUIRE(f.leases.ReturnLease((*replies[i])->lease_id, false).ok());
    ++returned;
  }
  CHECK(returned == 5000);
  CHECK(f.launcher.started.size() == 4);
  CHECK(f.AvailableCpu() == 4);
}

TEST_CASE("GPU leases get distinct indices; a queued one gets the index that was freed") {
  Fixture f(4, 3, /*gpus=*/2);
  f.WorkersRegister();
  auto first = f.Request({{"CPU", 1}, {"GPU", 1}});
  auto second = f.Request({{"CPU", 1}, {"GPU", 1}});
  auto third = f.Request({{"CPU", 1}, {"GPU", 1}});
  REQUIRE(first->has_value());
  REQUIRE(second->has_value());
  CHECK((*first)->gpu_ids == std::vector<int>{0});
  CHECK((*second)->gpu_ids == std::vector<int>{1});
  CHECK_FALSE(third->has_value());
  CHECK(f.leases.NumPending() == 1);
  REQUIRE(f.leases.ReturnLease((*second)->lease_id, false).ok());
  REQUIRE(third->has_value());
  CHECK((*third)->gpu_ids == std::vector<int>{1});
  REQUIRE(f.leases.ReturnLease((*first)->lease_id, false).ok());
  REQUIRE(f.leases.ReturnLease((*third)->lease_id, false).ok());
  CHECK(f.leases.gpus().NumFree() == 2);
}

TEST_CASE("a multi-GPU lease gets distinct indices; CPU-only leases get none") {
  Fixture f(4, 2, /*gpus=*/4);
  f.WorkersRegister();
  auto cpu = f.Request({{"CPU", 1}});
  auto pair = f.Request({{"CPU", 1}, {"GPU", 2}});
  REQUIRE(cpu->has_value());
  REQUIRE(pair->has_value());
  CHECK((*cpu)->gpu_ids.empty());
  CHECK((*pair)->gpu_ids == std::vector<int>{0, 1});
  CHECK(f.leases.gpus().NumFree() == 2);
}

TEST_CASE("a dead worker's GPU indices go to the next GPU lease") {
  Fixture f(4, 2, /*gpus=*/2);
  f.WorkersRegister();
  auto first = f.Request({{"CPU", 1}, {"GPU", 1}});
  auto second = f.Request({{"CPU", 1}, {"GPU", 1}});
  auto waiting = f.Request({{"CPU", 1}, {"GPU", 1}});
  CHECK_FALSE(waiting->has_value());
  f.launcher.Exit((*first)->worker_pid, "killed by signal 9 (SIGKILL)");
  for (const DeadWorker& dead : f.pool->ReapExited()) f.leases.OnWorkerGone(dead.id);
  CHECK(f.leases.gpus().NumFree() == 1);
  f.WorkersRegister();  // The worker started for the waiting request.
  REQUIRE(waiting->has_value());
  CHECK((*waiting)->gpu_ids == std::vector<int>{0});
}

TEST_CASE("revoking a dead caller's leases frees their GPU indices") {
  Fixture f(4, 2, /*gpus=*/2);
  f.WorkersRegister();
  WorkerId caller = WorkerId::FromRandom();
  auto held = f.Request({{"CPU", 1}, {"GPU", 2}}, caller);
  REQUIRE(held->has_value());
  CHECK(f.leases.gpus().NumFree() == 0);
  f.leases.OnWorkerGone(caller);
  CHECK(f.leases.gpus().NumFree() == 2);
}

TEST_CASE("a blocked worker keeps its GPU indices") {
  Fixture f(1, 2, /*gpus=*/1);
  f.WorkersRegister();
  auto outer = f.Request({{"CPU", 1}, {"GPU", 1}});
  auto nested_gpu = f.Request({{"CPU", 1}, {"GPU", 1}});
  auto nested_cpu = f.Request({{"CPU", 1}});
  f.leases.SetBlocked((*outer)->worker_id, true);
  CHECK_FALSE(nested_gpu->has_value());
  REQUIRE(nested_cpu->has_value());  // The lent CPU runs the CPU-only task.
  CHECK(f.leases.gpus().NumFree() == 0);
  f.leases.SetBlocked((*outer)->worker_id, false);
  REQUIRE(f.leases.ReturnLease((*nested_cpu)->lease_id, false).ok());
  REQUIRE(f.leases.ReturnLease((*outer)->lease_id, false).ok());
  REQUIRE(nested_gpu->has_value());
  CHECK((*nested_gpu)->gpu_ids == std::vector<int>{0});
}

TEST_CASE("fractional GPU leases share an index; a whole one waits for a free index") {
  Fixture f(4, 2, /*gpus=*/2);
  f.WorkersRegister();
  auto a = f.Request({{"CPU", 1}, {"GPU", 0.6}});
  auto b = f.Request({{"CPU", 1}, {"GPU", 0.6}});
  auto c = f.Request({{"CPU", 1}, {"GPU", 0.8}});  // 0.8 GPU counted free, no index has room.
  REQUIRE(a->has_value());
  REQUIRE(b->has_value());
  CHECK((*a)->gpu_ids == std::vector<int>{0});
  CHECK((*b)->gpu_ids == std::vector<int>{1});
  CHECK_FALSE(c->has_value());
  CHECK(f.pool->NumStarting() == 0);  // No index: no worker started for it.
  REQUIRE(f.leases.ReturnLease((*a)->lease_id, false).ok());
  REQUIRE(c->has_value());
  CHECK((*c)->gpu_ids == std::vector<int>{0});
}

TEST_CASE("a GPU request the node's whole GPUs cannot hold is infeasible") {
  Fixture f(4, 1, /*gpus=*/1.5);
  f.WorkersRegister();
  auto too_many = f.Request({{"CPU", 1}, {"GPU", 1.5}});  // Would need two indices.
  CHECK_FALSE(too_many->has_value());
  CHECK(f.leases.NumPending() == 1);
  auto one = f.Request({{"CPU", 1}, {"GPU", 1}});
  REQUIRE(one->has_value());
  CHECK((*one)->gpu_ids == std::vector<int>{0});
}

// Fair sharing between jobs (docs/raylet.md): each row sends lease requests
// of jobs A and B (one CPU each) in `arrivals` order on a node of `cpus`
// CPUs, with idle workers of both jobs ready, then returns the granted
// leases one at a time, oldest first. `grants` is the order in which the
// jobs got their leases: the job holding fewer leases goes first, equals
// take turns. Before, classes were served first come, first served, so A's
// queue ran dry before B got anything ("AAAAAABB").
TEST_CASE("jobs with pending demand share the node: fewest leases first, equals in turn") {
  struct Row {
    double cpus;
    std::string arrivals;
    std::string grants;
  };
  const std::vector<Row> rows = {
      {2, "AAAAAABB", "AABABAAA"},  // A holds both CPUs; B gets the next free one.
      {1, "AAAB", "AABA"},          // One CPU: equals take turns.
      {2, "ABABAB", "ABABAB"},      // Already interleaved: unchanged.
      {3, "BBBBAA", "BBBABA"},      // Whoever arrived first, the other job is not starved.
      {2, "AAAA", "AAAA"},          // One job alone gets everything.
  };
  for (const Row& row : rows) {
    INFO("cpus " << row.cpus << ", arrivals " << row.arrivals);
    Fixture f(row.cpus, /*prestart=*/4);
    const JobId job_b = JobId::FromInt(2);
    f.AddJob(job_b, WorkerId::FromRandom(), 78);
    for (int i = 0; i < 8; ++i) {  // The pool starts two processes at a time.
      f.WorkersRegister();
      f.pool->Maintain();
    }
    REQUIRE(f.pool->NumStarting() == 0);
    std::vector<std::pair<char, std::shared_ptr<std::optional<LeaseReply>>>> requests;
    for (char job : row.arrivals) {
      requests.emplace_back(job, f.Request({{"CPU", 1}}, WorkerId::Nil(),
                                           job == 'A' ? f.job : job_b));
    }
    std::string grants;
    std::vector<size_t> held;  // Indices into `requests`, oldest grant first.
    auto collect = [&] {
      for (size_t i = 0; i < requests.size(); ++i) {
        if (requests[i].second->has_value() &&
            std::find(held.begin(), held.end(), i) == held.end()) {
          REQUIRE((*requests[i].second)->granted);
          held.push_back(i);
          grants += requests[i].first;
        }
      }
    };
    collect();
    for (size_t returned = 0; returned < held.size(); ++returned) {
      REQUIRE(f.leases.ReturnLease((*requests[held[returned]].second)->lease_id, false).ok());
      collect();
    }
    CHECK(grants == row.grants);
  }
}

TEST_CASE("a repeated lease request is the same request: no second worker, no leak") {
  // The caller repeats a request whose reply it lost (docs/raylet.md).
  Fixture f(2, /*prestart=*/2);
  f.WorkersRegister();
  const WorkerId caller = WorkerId::FromRandom();
  auto send = [&](int64_t request_id) {
    auto slot = std::make_shared<std::optional<LeaseReply>>();
    LeaseRequest request;
    request.job = f.job;
    request.resources = Res({{"CPU", 1}});
    request.caller = caller;
    request.request_id = request_id;
    request.reply = [slot](const LeaseReply& reply) { *slot = reply; };
    f.leases.RequestLease(std::move(request));
    return slot;
  };
  SECTION("granted, then repeated: the same grant again") {
    auto first = send(7);
    REQUIRE(first->has_value());
    REQUIRE((*first)->granted);
    auto again = send(7);
    REQUIRE(again->has_value());
    CHECK((*again)->granted);
    CHECK((*again)->lease_id == (*first)->lease_id);
    CHECK((*again)->worker_id == (*first)->worker_id);
    CHECK(f.leases.NumLeases() == 1);
    CHECK(f.AvailableCpu() == 1);
    // Returned: the key is forgotten, so the id may name a new request.
    REQUIRE(f.leases.ReturnLease((*first)->lease_id, false).ok());
    CHECK(absl::IsNotFound(f.leases.ReturnLease((*first)->lease_id, false)));  // Repeated return.
    auto later = send(7);
    REQUIRE(later->has_value());
    CHECK((*later)->lease_id != (*first)->lease_id);
  }
  SECTION("queued, then repeated: one grant, to the repeat") {
    auto a = send(1);
    auto b = send(2);
    REQUIRE((a->has_value() && b->has_value()));
    auto queued = send(3);
    CHECK_FALSE(queued->has_value());
    auto repeat = send(3);
    REQUIRE(queued->has_value());  // The earlier call is told it was superseded.
    CHECK_FALSE((*queued)->granted);
    CHECK((*queued)->error.find("superseded") != std::string::npos);
    CHECK_FALSE(repeat->has_value());
    CHECK(f.leases.NumPending() == 1);
    REQUIRE(f.leases.ReturnLease((*a)->lease_id, false).ok());
    REQUIRE(repeat->has_value());
    CHECK((*repeat)->granted);
    CHECK(f.leases.NumLeases() == 2);
    CHECK(f.leases.NumPending() == 0);
  }
}

TEST_CASE("with a placer, a node busy with its queue spills requests; infeasible ones wait for a node") {
  Fixture f(2);
  std::vector<NodeView> others = {NodeView{"B", Res({{"CPU", 4}}), Res({{"CPU", 4}})}};
  std::vector<double> seen_local_cpu;
  f.leases.SetPlacer([&](const LeaseRequest& request, const NodeView& local) {
    seen_local_cpu.push_back(local.available.Get("CPU"));
    NodeView here = local;
    here.node_id = "A";
    return PickPlacement(PlacementRequest{request.resources, request.strategy,
                                          request.grant_or_reject},
                         here, others, 0);
  });
  // Two fit here: queued while workers start (the node has room for them).
  auto first = f.Request({{"CPU", 1}});
  auto second = f.Request({{"CPU", 1}});
  CHECK_FALSE(first->has_value());
  CHECK_FALSE(second->has_value());
  // The third finds the node busy with its queue: spilled to B.
  auto third = f.Request({{"CPU", 1}});
  REQUIRE(third->has_value());
  CHECK_FALSE((*third)->granted);
  CHECK((*third)->spill_node_id == "B");
  CHECK(seen_local_cpu == std::vector<double>{2, 1, 0});
  // No node has 8 CPUs: it waits here, and goes when one joins.
  auto big = f.Request({{"CPU", 8}});
  CHECK_FALSE(big->has_value());
  CHECK(f.leases.NumPending() == 3);
  f.leases.RetryInfeasible();
  CHECK_FALSE(big->has_value());
  others.push_back(NodeView{"C", Res({{"CPU", 16}}), Res({{"CPU", 16}})});
  f.leases.RetryInfeasible();
  REQUIRE(big->has_value());
  CHECK((*big)->spill_node_id == "C");
  CHECK(f.leases.NumPending() == 2);
  f.WorkersRegister();
  REQUIRE(first->has_value());
  CHECK((*first)->granted);
  CHECK((*second)->granted);
}

TEST_CASE("queued requests this node will not serve soon go to a node that has room now") {
  Fixture f(2);
  std::vector<NodeView> others = {NodeView{"B", Res({{"CPU", 4}}), Res({})}};
  f.leases.SetPlacer([&](const LeaseRequest& request, const NodeView& local) {
    NodeView here = local;
    here.node_id = "A";
    return PickPlacement(PlacementRequest{request.resources, request.strategy,
                                          request.grant_or_reject},
                         here, others, 0);
  });
  std::vector<std::shared_ptr<std::optional<LeaseReply>>> replies;
  for (int i = 0; i < 4; ++i) replies.push_back(f.Request({{"CPU", 1}}));
  for (const auto& reply : replies) CHECK_FALSE(reply->has_value());  // B is full: all wait here.
  f.leases.SpillQueued();
  for (const auto& reply : replies) CHECK_FALSE(reply->has_value());
  others[0].available = Res({{"CPU", 4}});
  f.leases.SpillQueued();
  // The two this node has room for stay; the two behind them go to B.
  CHECK_FALSE(replies[0]->has_value());
  CHECK_FALSE(replies[1]->has_value());
  REQUIRE(replies[2]->has_value());
  REQUIRE(replies[3]->has_value());
  CHECK((*replies[2])->spill_node_id == "B");
  CHECK((*replies[3])->spill_node_id == "B");
  CHECK(f.leases.NumPending() == 2);
  f.WorkersRegister();
  CHECK((*replies[0])->granted);
  CHECK((*replies[1])->granted);
}
