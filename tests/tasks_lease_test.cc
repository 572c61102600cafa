// Leases and borrowers across processes, on a real 2-CPU local cluster:
// a caller that dies has the workers it leased revoked (killed) by the
// raylet; a borrower waiting on an owner whose last reference goes away
// gets an error instead of waiting forever.
#include <ray/api.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "tests/harness.h"
#include "tests/tasks_harness.h"
#include "worker/runtime.h"

namespace {

namespace fs = std::filesystem;

std::string TempPath(const std::string& name) {
  return fs::temp_directory_path().string() + "/lumen-lease-test-" + std::to_string(::getpid()) +
         "-" + name;
}

// Writes its pid, then waits a minute: killed long before unless leaked.
int SleepWithPid(std::string pid_file) {
  std::ofstream(pid_file + ".tmp") << ::getpid();
  fs::rename(pid_file + ".tmp", pid_file);
  std::this_thread::sleep_for(std::chrono::seconds(60));
  return 0;
}

// Leases a worker for SleepWithPid, waits until it runs, then dies.
int LeaseThenDie(std::string pid_file) {
  auto inner = ray::Task(SleepWithPid).Remote(pid_file);
  while (!fs::exists(pid_file)) {
    // Blocked in Wait, this worker lends its CPU to the inner task.
    ray::Wait(std::vector<ray::ObjectRef<int>>{inner}, 1, 100);
  }
  ::raise(SIGKILL);
  return 0;
}

// Returns 1 once `marker` exists.
int WaitForMarker(std::string marker) {
  while (!fs::exists(marker)) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return 1;
}

// Borrows refs[0] (nested in a vector) and reports what Get did: the
// value, or -1 for an error.
int Borrow(std::vector<ray::ObjectRef<int>> refs) {
  try {
    return *ray::Get(refs[0]);
  } catch (const std::exception&) {
    return -1;
  }
}

// Keeps refs past the call that passed them, then reads one later: a
// borrower, which the call's reply names to the owner (docs/objects.md,
// "Reference counting").
class Keeper {
 public:
  static Keeper* Create() { return new Keeper(); }
  int Keep(std::vector<ray::ObjectRef<int>> refs) {
    kept_ = std::move(refs);
    return 1;
  }
  int ReadKept() { return Borrow(kept_); }

 private:
  std::vector<ray::ObjectRef<int>> kept_;
};

}  // namespace

RAY_REMOTE(SleepWithPid, LeaseThenDie, WaitForMarker, Borrow, Keeper::Create, &Keeper::Keep,
           &Keeper::ReadKept);

TEST_CASE("the workers leased by a caller that dies are revoked") {
  std::string pid_file = TempPath("inner.pid");
  auto outer = ray::Task(LeaseThenDie).SetMaxRetries(0).Remote(pid_file);
  CHECK_THROWS_AS(ray::Get(outer), ray::internal::RayWorkerException);
  REQUIRE(fs::exists(pid_file));
  pid_t inner = 0;
  std::ifstream(pid_file) >> inner;
  REQUIRE(inner > 0);
  lumen::testing::RecordWorkerPid(inner);
  // The raylet kills the leased worker once it sees its caller gone (it
  // checks dead workers as they are reaped), long before the task's minute.
  CHECK(lumen::testing::WaitUntil([&] { return !lumen::testing::IsRunning(inner); }, 20000));
  fs::remove(pid_file);
}

TEST_CASE("a ref nested in a task's argument stays alive while the task runs") {
  std::string marker = TempPath("marker-nested");
  std::optional<ray::ObjectRef<int>> slow = ray::Task(WaitForMarker).Remote(marker);
  auto borrowed = ray::Task(Borrow).Remote(std::vector<ray::ObjectRef<int>>{*slow});
  // The borrower asked this owner for the value, which is not ready yet.
  REQUIRE(lumen::testing::WaitUntil(
      [] { return lumen::worker::GetRuntimeStats().borrower_waits > 0; }, 60000, 5));
  slow.reset();  // The caller's own reference goes; the task's argument holds one.
  std::ofstream(marker) << "go";
  CHECK(*ray::Get(borrowed, 30000) == 1);
  fs::remove(marker);
}

TEST_CASE("a borrower waiting on an owner that drops its own last reference gets the value") {
  std::string marker = TempPath("marker");
  std::optional<ray::ObjectRef<int>> slow = ray::Task(WaitForMarker).Remote(marker);
  auto keeper = ray::Actor(Keeper::Create).Remote();
  // The call's hold on the ref ends with the call; the actor keeps a copy.
  REQUIRE(*ray::Get(keeper.Task(&Keeper::Keep).Remote(std::vector<ray::ObjectRef<int>>{*slow})) == 1);
  auto read = keeper.Task(&Keeper::ReadKept).Remote();
  // The borrower asked this owner for the value, which is not ready yet.
  REQUIRE(lumen::testing::WaitUntil(
      [] { return lumen::worker::GetRuntimeStats().borrower_waits > 0; }, 60000, 5));
  slow.reset();  // The owner's last own reference: the actor's hold keeps the value.
  std::ofstream(marker) << "go";
  CHECK(*ray::Get(read, 30000) == 1);
  keeper.Kill();
  fs::remove(marker);
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 2); }
