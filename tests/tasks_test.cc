// Tasks end to end on a real 4-CPU local cluster: parallelism, DAGs,
// Wait, timeouts, errors, worker deaths and retries, infeasible requests,
// and many tiny tasks.
#include <ray/api.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <thread>

#include "tests/tasks_harness.h"

namespace {

// Far beyond any healthy wait: only a failing test reaches it.
constexpr int kEventTimeoutMs = 60000;

// Arrives at the rendezvous in `dir` and waits there for all `parties`;
// reports [pid, 1 if all arrived, 0 if they never did].
std::vector<int64_t> MeetAll(std::string dir, int parties) {
  const bool met = lumen::testing::Rendezvous(dir, parties, kEventTimeoutMs);
  return {::getpid(), met ? 1 : 0};
}

// Blocks until the driver creates `gate`: 1, or 0 if it never did.
int WaitForGate(std::string gate) { return lumen::testing::WaitForFile(gate, kEventTimeoutMs) ? 1 : 0; }

int Square(int x) { return x * x; }
int Add(int a, int b) { return a + b; }
int SumAll(std::vector<ray::ObjectRef<int>> refs) {
  int total = 0;
  for (const auto& v : ray::Get(refs)) total += *v;
  return total;
}
double SumVector(std::vector<double> values) { return std::accumulate(values.begin(), values.end(), 0.0); }
std::vector<double> MakeVector(int n) { return std::vector<double>(n, 0.5); }
int Fail(int x) {
  if (x > 0) throw std::invalid_argument("x must not be positive, got " + std::to_string(x));
  return x;
}
int Pid() { return ::getpid(); }
// Dies on its first attempt (marker file absent), succeeds on the retry.
int DieOnce(std::string marker) {
  if (!std::filesystem::exists(marker)) {
    std::ofstream(marker) << "x";
    ::raise(SIGKILL);
  }
  return 7;
}
int AlwaysDie(int) {
  ::raise(SIGKILL);
  return 0;
}
// Writes its pid to `path` and sleeps until the test kills it from outside.
int SleepWithPidFile(std::string path) {
  lumen::testing::SignalFile(path, std::to_string(::getpid()));
  std::this_thread::sleep_for(std::chrono::seconds(30));
  return 1;
}
int NotRegistered(int x) { return x; }
// Takes the ref itself (not its value) and reads it inside the task.
int Deref(ray::ObjectRef<int> ref) { return *ray::Get(ref); }

}  // namespace

RAY_REMOTE(MeetAll, WaitForGate, Square, Add, SumAll, SumVector, MakeVector, Fail, Pid, DieOnce, AlwaysDie,
           SleepWithPidFile, Deref);

TEST_CASE("tasks run in parallel on separate workers") {
  const std::string dir = lumen::testing::MakeEventDir("parallel");
  std::vector<ray::ObjectRef<std::vector<int64_t>>> refs;
  for (int i = 0; i < 4; ++i) refs.push_back(ray::Task(MeetAll).Remote(dir, 4));
  std::set<int64_t> pids;
  for (const auto& r : ray::Get(refs)) {
    // Each waited until all four had arrived: they ran at the same moment.
    CHECK((*r)[1] == 1);
    pids.insert((*r)[0]);
    lumen::testing::RecordWorkerPid((*r)[0]);
  }
  CHECK(pids.size() == 4);  // In four processes.
}

TEST_CASE("results come back in order and ObjectRef arguments are resolved") {
  std::vector<ray::ObjectRef<int>> squares;
  for (int i = 0; i < 8; ++i) squares.push_back(ray::Task(Square).Remote(i));
  std::vector<int> values;
  for (const auto& v : ray::Get(squares)) values.push_back(*v);
  CHECK(values == std::vector<int>{0, 1, 4, 9, 16, 25, 36, 49});
  auto sum = ray::Task(Add).Remote(squares[2], squares[3]);  // Refs as arguments.
  CHECK(*sum.Get() == 13);
  auto chained = ray::Task(Add).Remote(sum, 100);            // A DAG of tasks.
  CHECK(*ray::Get(chained) == 113);
}

TEST_CASE("a list of refs is resolved inside a task") {
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 1; i <= 5; ++i) refs.push_back(ray::Task(Square).Remote(i));
  CHECK(*ray::Get(ray::Task(SumAll).Remote(refs)) == 1 + 4 + 9 + 16 + 25);
}

TEST_CASE("refs passed as refs stay alive while the task runs, even temporaries") {
  // The caller's own refs go away right after Remote(): only the task's
  // hold on them keeps the objects until the task has read them.
  auto one = ray::Task(Deref).Remote(ray::Put(41));
  auto many = ray::Task(SumAll).Remote(std::vector<ray::ObjectRef<int>>{ray::Put(1), ray::Put(2), ray::Put(3)});
  CHECK(*ray::Get(one) == 41);
  CHECK(*ray::Get(many) == 6);
}

TEST_CASE("ObjectRef prints like Ray's and Put values reach tasks") {
  auto ref = ray::Put(std::vector<double>(1000, 2.0));
  std::ostringstream out;
  out << ref;
  CHECK(out.str().rfind("ObjectRef(", 0) == 0);
  CHECK(ref.ID().size() == 56);
  CHECK(*ray::Get(ray::Task(SumVector).Remote(ref)) == 2000.0);
  // Large values travel through plasma (above the 100 KiB inline limit).
  auto big = ray::Put(std::vector<double>(1 << 20, 1.0));
  CHECK(*ray::Get(ray::Task(SumVector).Remote(big)) == double(1 << 20));
  auto big_result = ray::Task(MakeVector).Remote(1 << 20);
  CHECK(ray::Get(big_result)->size() == size_t(1 << 20));
  CHECK(*ray::Get(ray::Task(SumVector).Remote(big_result)) == double(1 << 19));
}

TEST_CASE("Wait returns num_objects ready refs, or what is ready at the timeout") {
  // The first and last task cannot finish before the gate opens.
  const std::string gate = lumen::testing::MakeEventDir("wait") + "/open";
  std::vector<ray::ObjectRef<int>> refs;
  refs.push_back(ray::Task(WaitForGate).Remote(gate));
  refs.push_back(ray::Task(Square).Remote(3));
  refs.push_back(ray::Task(WaitForGate).Remote(gate));
  auto first = ray::Wait(refs, 1, -1);
  REQUIRE(first.ready.size() == 1);
  CHECK(first.unready.size() == 2);
  CHECK(first.ready.front() == refs[1]);
  auto timed = ray::Wait(refs, 3, 100);
  CHECK(timed.ready.size() == 1);
  CHECK(timed.unready.size() == 2);
  CHECK_THROWS_AS(ray::Wait(refs, 4, 0), ray::internal::RayException);
  lumen::testing::SignalFile(gate);
  auto all = ray::Wait(refs, 3, -1);
  CHECK(all.ready.size() == 3);
  CHECK(*ray::Get(refs[0]) + *ray::Get(refs[2]) == 2);  // Both saw the gate open.
}

TEST_CASE("Get with a timeout raises RayTimeoutException") {
  // The task cannot finish before the gate opens.
  const std::string gate = lumen::testing::MakeEventDir("get-timeout") + "/open";
  auto blocked = ray::Task(WaitForGate).Remote(gate);
  CHECK_THROWS_AS(ray::Get(blocked, 100), ray::internal::RayTimeoutException);
  lumen::testing::SignalFile(gate);
  // The timeout did not cancel the task: it ran on and ended normally.
  CHECK(*ray::Get(blocked) == 1);
}

TEST_CASE("an exception in a task comes back as RayTaskException with its details") {
  auto ref = ray::Task(Fail).Remote(3);
  try {
    ray::Get(ref);
    FAIL("expected RayTaskException");
  } catch (const ray::internal::RayTaskException& e) {
    std::string what = e.what();
    CHECK_THAT(what, Catch::Contains("std::invalid_argument"));
    CHECK_THAT(what, Catch::Contains("x must not be positive, got 3"));
    CHECK_THAT(what, Catch::Contains("Fail"));
    CHECK_THAT(what, Catch::Contains("pid="));
  }
  // A task depending on a failed one fails with the same error.
  auto dependent = ray::Task(Add).Remote(ref, 1);
  CHECK_THROWS_AS(ray::Get(dependent), ray::internal::RayTaskException);
  CHECK(*ray::Get(ray::Task(Fail).Remote(-2)) == -2);  // Workers keep serving.
}

TEST_CASE("a worker killed mid-task is retried, then reported as RayWorkerException") {
  std::string marker = "/tmp/lumen-die-once-" + std::to_string(::getpid());
  std::filesystem::remove(marker);
  CHECK(*ray::Get(ray::Task(DieOnce).Remote(marker)) == 7);
  std::filesystem::remove(marker);
  auto doomed = ray::Task(AlwaysDie).SetMaxRetries(2).Remote(0);
  try {
    ray::Get(doomed);
    FAIL("expected RayWorkerException");
  } catch (const ray::internal::RayWorkerException& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("2 retries used"));
  }
  // Killed from outside with SIGKILL while sleeping, no retries left.
  std::string pid_file = "/tmp/lumen-sleeper-" + std::to_string(::getpid());
  std::filesystem::remove(pid_file);
  auto sleeper = ray::Task(SleepWithPidFile).SetMaxRetries(0).Remote(pid_file);
  REQUIRE(lumen::testing::WaitForFile(pid_file, kEventTimeoutMs));
  pid_t pid = 0;
  std::ifstream(pid_file) >> pid;
  REQUIRE(pid > 0);
  ::kill(pid, SIGKILL);
  CHECK_THROWS_AS(ray::Get(sleeper), ray::internal::RayWorkerException);
  std::filesystem::remove(pid_file);
  CHECK(*ray::Get(ray::Task(Square).Remote(5)) == 25);  // The cluster keeps serving.
}

TEST_CASE("an unregistered function is a clear error") {
  CHECK_THROWS_AS(ray::Task(NotRegistered).Remote(1), ray::internal::RayFunctionNotFound);
  try {
    ray::Task(NotRegistered).Remote(1);
  } catch (const ray::internal::RayFunctionNotFound& e) {
    CHECK_THAT(std::string(e.what()), Catch::Contains("RAY_REMOTE"));
  }
}

TEST_CASE("an infeasible resource request stays pending and the cluster keeps serving") {
  auto pending = ray::Task(Square).SetResource("CPU", 100).Remote(3);
  auto custom = ray::Task(Square).SetResources({{"unicorn", 1}}).Remote(4);
  CHECK_THROWS_AS(ray::Get(pending, 300), ray::internal::RayTimeoutException);
  CHECK_THROWS_AS(ray::Get(custom, 10), ray::internal::RayTimeoutException);
  CHECK(*ray::Get(ray::Task(Square).Remote(6)) == 36);
  auto total = ray::ClusterResources();
  CHECK(total["CPU"] == 4);
  CHECK(total.count("node:127.0.0.1") == 1);
  CHECK(total.count("object_store_memory") == 1);
}

TEST_CASE("more infeasible tasks than the in-flight bound do not block Remote()") {
  // 25,000 tasks no node can run: past the bound of 20,000 tasks in flight,
  // Remote() must still return (they are exempt from backpressure) and the
  // cluster must keep running the tasks it can.
  std::vector<ray::ObjectRef<int>> stuck;
  stuck.reserve(25000);
  for (int i = 0; i < 25000; ++i) stuck.push_back(ray::Task(Square).SetResources({{"unicorn", 1}}).Remote(i));
  CHECK(stuck.size() == 25000);
  CHECK(*ray::Get(ray::Task(Square).Remote(7)) == 49);
  CHECK_THROWS_AS(ray::Get(stuck.back(), 10), ray::internal::RayTimeoutException);
}

TEST_CASE("10,000 tiny tasks finish") {
  std::vector<ray::ObjectRef<int>> refs;
  refs.reserve(10000);
  for (int i = 0; i < 10000; ++i) refs.push_back(ray::Task(Square).Remote(i % 100));
  auto values = ray::Get(refs);
  int64_t total = 0;
  for (const auto& v : values) total += *v;
  int64_t expected = 0;
  for (int i = 0; i < 10000; ++i) expected += (i % 100) * (i % 100);
  CHECK(total == expected);
  for (int i = 0; i < 8; ++i) lumen::testing::RecordWorkerPid(*ray::Get(ray::Task(Pid).Remote()));
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 4); }
