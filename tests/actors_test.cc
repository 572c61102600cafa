// Actors end to end on a real 4-CPU local cluster: state, ordering of
// 10,000 calls, handles passed to and returned from tasks, names and
// namespaces, Kill, restarts after SIGKILL, factory exceptions,
// max_concurrency, pending actors, RuntimeEnv, ExitActor.
#include <ray/api.h>
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "tests/tasks_harness.h"

namespace {

constexpr int kEventTimeoutMs = 60000;  // Only a failing test reaches it.

class Counter {
 public:
  explicit Counter(int start) : value_(start) {}
  static Counter* Create(int start) { return new Counter(start); }
  int Increment() { return ++value_; }
  int Add(int n) { return value_ += n; }
  int Get() const { return value_; }
  int Pid() { return ::getpid(); }
  bool Restarted() { return ray::WasCurrentActorRestarted(); }
  std::string Env(std::string name) {
    const char* v = std::getenv(name.c_str());
    return v ? v : "<unset>";
  }
  std::string Namespace() { return ray::GetNamespace(); }
  int Exit() {
    ray::ExitActor();
    return 0;
  }

 private:
  int value_;
};
RAY_REMOTE(Counter::Create, &Counter::Increment, &Counter::Add, &Counter::Get, &Counter::Pid,
           &Counter::Restarted, &Counter::Env, &Counter::Namespace, &Counter::Exit);

// Records the order calls arrive in.
class Log {
 public:
  static Log* Create() { return new Log(); }
  int Append(int v) {
    values_.push_back(v);
    return static_cast<int>(values_.size());
  }
  std::vector<int> Values() const { return values_; }
  // Blocks in a rendezvous with `parties` calls: 1 if all met within the
  // timeout (the calls overlapped), else 0.
  int Meet(std::string dir, int parties, int timeout_ms) {
    return lumen::testing::Rendezvous(dir, parties, timeout_ms) ? 1 : 0;
  }
  // Calls another actor through a handle passed as an argument.
  int AppendFrom(ray::ActorHandle<Counter> counter) {
    return Append(*ray::Get(counter.Task(&Counter::Increment).Remote()));
  }

 private:
  std::vector<int> values_;
};
RAY_REMOTE(Log::Create, &Log::Append, &Log::Values, &Log::Meet, &Log::AppendFrom);

class DataStore {
 public:
  static DataStore* Create() { return new DataStore(); }
  void Put(std::string key, int value) { data_[key] = value; }
  int Get(std::string key) {
    auto it = data_.find(key);
    return it == data_.end() ? -1 : it->second;
  }

 private:
  std::map<std::string, int> data_;
};
RAY_REMOTE(DataStore::Create, &DataStore::Put, &DataStore::Get);

class Broken {
 public:
  static Broken* Create(int x) {
    if (x > 0) throw std::runtime_error("cannot build Broken from " + std::to_string(x));
    return new Broken();
  }
  int Get() { return 1; }
};
RAY_REMOTE(Broken::Create, &Broken::Get);

std::string WriteToStore(ray::ActorHandle<DataStore> store, std::string key, int value) {
  ray::Get(store.Task(&DataStore::Put).Remote(key, value));
  return "Stored " + key;
}
ray::ActorHandle<Counter> MakeCounter(int start) { return ray::Actor(Counter::Create).Remote(start); }
int IncrementFromTask(ray::ActorHandle<Counter> counter) {
  return *ray::Get(counter.Task(&Counter::Increment).Remote());
}
std::string TaskEnv(std::string name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "<unset>";
}
RAY_REMOTE(WriteToStore, MakeCounter, IncrementFromTask, TaskEnv);

// Calls `call` until it stops throwing RayActorException (the actor is
// restarting); false when the deadline passes first.
template <typename F>
bool EventuallySucceeds(F call) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kEventTimeoutMs);
  while (std::chrono::steady_clock::now() < deadline) {
    try {
      call();
      return true;
    } catch (const ray::internal::RayActorException&) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return false;
}

}  // namespace

TEST_CASE("Counter keeps its state: 10 -> 11, then 12..16") {
  auto counter = ray::Actor(Counter::Create).Remote(10);
  CHECK(*ray::Get(counter.Task(&Counter::Increment).Remote()) == 11);
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 5; ++i) refs.push_back(counter.Task(&Counter::Increment).Remote());
  std::vector<int> values;
  for (const auto& v : ray::Get(refs)) values.push_back(*v);
  CHECK(values == std::vector<int>{12, 13, 14, 15, 16});
  lumen::testing::RecordWorkerPid(*ray::Get(counter.Task(&Counter::Pid).Remote()));
}

TEST_CASE("10,000 calls from one caller run in the order sent") {
  auto log = ray::Actor(Log::Create).Remote();
  std::vector<ray::ObjectRef<int>> refs;
  refs.reserve(10000);
  for (int i = 0; i < 10000; ++i) refs.push_back(log.Task(&Log::Append).Remote(i));
  auto sizes = ray::Get(refs);
  for (int i = 0; i < 10000; ++i) REQUIRE(*sizes[i] == i + 1);
  auto values = *ray::Get(log.Task(&Log::Values).Remote());
  REQUIRE(values.size() == 10000);
  for (int i = 0; i < 10000; ++i) REQUIRE(values[i] == i);
}

TEST_CASE("A DataStore handle passed to ten tasks; handles returned from tasks") {
  auto store = ray::Actor(DataStore::Create).Remote();
  std::vector<ray::ObjectRef<std::string>> refs;
  for (int i = 0; i < 10; ++i) {
    refs.push_back(ray::Task(WriteToStore).Remote(store, "key_" + std::to_string(i), i));
  }
  auto done = ray::Get(refs);
  CHECK(*done[3] == "Stored key_3");
  CHECK(*ray::Get(store.Task(&DataStore::Get).Remote(std::string("key_5"))) == 5);
  CHECK(*ray::Get(store.Task(&DataStore::Get).Remote(std::string("key_10"))) == -1);

  // An actor created inside a task, its handle returned to the driver.
  auto counter = *ray::Get(ray::Task(MakeCounter).Remote(100));
  CHECK(*ray::Get(counter.Task(&Counter::Increment).Remote()) == 101);
  // And passed on to another task, which calls it too.
  CHECK(*ray::Get(ray::Task(IncrementFromTask).Remote(counter)) == 102);
  CHECK(*ray::Get(counter.Task(&Counter::Get).Remote()) == 102);

  // And passed to another actor's method, which calls it.
  auto log = ray::Actor(Log::Create).Remote();
  CHECK(*ray::Get(log.Task(&Log::AppendFrom).Remote(counter)) == 1);
  CHECK(*ray::Get(log.Task(&Log::Values).Remote()) == std::vector<int>{103});
  log.Kill();
  counter.Kill();
}

TEST_CASE("Named actors: lookup in and across namespaces, and a name clash") {
  auto a = ray::Actor(Counter::Create).SetName("named_a").Remote(1);
  auto found = ray::GetActor<Counter>("named_a");
  REQUIRE(found.has_value());
  CHECK(found->ID() == a.ID());
  CHECK(*ray::Get(found->Task(&Counter::Increment).Remote()) == 2);
  CHECK_FALSE(ray::GetActor<Counter>("named_a", "elsewhere").has_value());
  CHECK_FALSE(ray::GetActor<Counter>("no_such_actor").has_value());

  auto b = ray::Actor(Counter::Create).SetName("named_b", "elsewhere").Remote(5);
  CHECK_FALSE(ray::GetActor<Counter>("named_b").has_value());
  auto b2 = ray::GetActor<Counter>("named_b", "elsewhere");
  REQUIRE(b2.has_value());
  CHECK(*ray::Get(b2->Task(&Counter::Get).Remote()) == 5);
  // The actor sees its job's namespace, the driver's.
  CHECK(*ray::Get(a.Task(&Counter::Namespace).Remote()) == ray::GetNamespace());

  std::string error = lumen::testing::ErrorMessageOf(
      [] { ray::Actor(Counter::Create).SetName("named_a").Remote(3); });
  CHECK_THAT(error, Catch::Contains("named_a") && Catch::Contains("already taken"));
  // The same name in another namespace is fine.
  auto other = ray::Actor(Counter::Create).SetName("named_a", "elsewhere").Remote(7);
  CHECK(*ray::Get(other.Task(&Counter::Get).Remote()) == 7);

  // Once killed, the name is free again.
  a.Kill();
  CHECK_FALSE(ray::GetActor<Counter>("named_a").has_value());
  auto again = ray::Actor(Counter::Create).SetName("named_a").Remote(9);
  CHECK(*ray::Get(again.Task(&Counter::Get).Remote()) == 9);
  for (auto* h : {&b, &other, &again}) h->Kill();
}

TEST_CASE("Kill, then a call fails with RayActorException at once") {
  auto counter = ray::Actor(Counter::Create).Remote(0);
  CHECK(*ray::Get(counter.Task(&Counter::Increment).Remote()) == 1);
  counter.Kill();
  auto ref = counter.Task(&Counter::Increment).Remote();
  // A short timeout: a hang would throw RayTimeoutException instead.
  CHECK_THROWS_AS(ray::Get(ref, 20000), ray::internal::RayActorException);
  std::string error = lumen::testing::ErrorMessageOf(
      [&] { ray::Get(counter.Task(&Counter::Get).Remote(), 20000); });
  CHECK_THAT(error, Catch::Contains("ray::Kill"));
}

TEST_CASE("SIGKILL with max_restarts=1 restarts the actor once, then it is dead") {
  auto counter = ray::Actor(Counter::Create).SetMaxRestarts(1).Remote(10);
  int pid = *ray::Get(counter.Task(&Counter::Pid).Remote());
  CHECK_FALSE(*ray::Get(counter.Task(&Counter::Restarted).Remote()));
  REQUIRE(::kill(pid, SIGKILL) == 0);
  int new_pid = 0;
  REQUIRE(EventuallySucceeds([&] { new_pid = *ray::Get(counter.Task(&Counter::Pid).Remote()); }));
  CHECK(new_pid != pid);
  CHECK(*ray::Get(counter.Task(&Counter::Restarted).Remote()));
  // The factory ran again: the state starts over.
  CHECK(*ray::Get(counter.Task(&Counter::Get).Remote()) == 10);
  REQUIRE(::kill(new_pid, SIGKILL) == 0);
  std::string error;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    error = lumen::testing::ErrorMessageOf([&] { ray::Get(counter.Task(&Counter::Get).Remote(), 20000); });
    if (error.find("is dead") != std::string::npos) break;
  }
  CHECK_THAT(error, Catch::Contains("is dead") && Catch::Contains("died"));
}

TEST_CASE("A factory that throws: the first call raises RayActorException with its message") {
  auto broken = ray::Actor(Broken::Create).Remote(3);
  auto ref = broken.Task(&Broken::Get).Remote();
  CHECK_THROWS_AS(ray::Get(ref, 20000), ray::internal::RayActorException);
  std::string error = lumen::testing::ErrorMessageOf([&] { ray::Get(ref, 20000); });
  CHECK_THAT(error, Catch::Contains("cannot build Broken from 3"));
}

TEST_CASE("max_concurrency=3 overlaps three blocking calls; max_concurrency=1 does not") {
  std::string dir = lumen::testing::MakeEventDir("concurrency3");
  auto log = ray::Actor(Log::Create).SetMaxConcurrency(3).Remote();
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 3; ++i) refs.push_back(log.Task(&Log::Meet).Remote(dir, 3, kEventTimeoutMs));
  for (const auto& met : ray::Get(refs)) CHECK(*met == 1);

  std::string dir1 = lumen::testing::MakeEventDir("concurrency1");
  auto serial = ray::Actor(Log::Create).Remote();
  std::vector<ray::ObjectRef<int>> serial_refs;
  for (int i = 0; i < 2; ++i) serial_refs.push_back(serial.Task(&Log::Meet).Remote(dir1, 2, 1500));
  // The first call waits alone until its timeout (the second runs after it,
  // finds the first's arrival recorded, and so "meets" it).
  CHECK(*ray::Get(serial_refs)[0] == 0);
  log.Kill();
  serial.Kill();
}

TEST_CASE("An actor asking for more CPUs than the cluster has stays pending harmlessly") {
  auto big = ray::Actor(Counter::Create).SetResource("CPU", 64).Remote(0);
  auto ref = big.Task(&Counter::Get).Remote();
  CHECK_THROWS_AS(ray::Get(ref, 1000), ray::internal::RayTimeoutException);
  // The cluster keeps serving other actors meanwhile.
  auto small = ray::Actor(Counter::Create).Remote(1);
  CHECK(*ray::Get(small.Task(&Counter::Get).Remote()) == 1);
  big.Kill();
  CHECK_THROWS_AS(ray::Get(ref, 20000), ray::internal::RayActorException);
  small.Kill();
}

TEST_CASE("RuntimeEnv env_vars are seen by the actor") {
  ray::RuntimeEnv env;
  env.Set("env_vars", std::map<std::string, std::string>{{"LUMEN_TEST_GREETING", "hello actor"}});
  auto counter = ray::Actor(Counter::Create).SetRuntimeEnv(env).Remote(0);
  CHECK(*ray::Get(counter.Task(&Counter::Env).Remote(std::string("LUMEN_TEST_GREETING"))) ==
        "hello actor");
  auto plain = ray::Actor(Counter::Create).Remote(0);
  CHECK(*ray::Get(plain.Task(&Counter::Env).Remote(std::string("LUMEN_TEST_GREETING"))) ==
        "<unset>");
  counter.Kill();
  plain.Kill();
}

TEST_CASE("RuntimeEnv env_vars on a task are set while it runs, then restored") {
  ray::RuntimeEnv env;
  env.Set("env_vars", std::map<std::string, std::string>{{"LUMEN_TEST_TASK_VAR", "task value"}});
  CHECK(*ray::Get(ray::Task(TaskEnv).SetRuntimeEnv(env).Remote(std::string("LUMEN_TEST_TASK_VAR"))) ==
        "task value");
  // The same workers run later tasks without it.
  std::vector<ray::ObjectRef<std::string>> later;
  for (int i = 0; i < 8; ++i) later.push_back(ray::Task(TaskEnv).Remote(std::string("LUMEN_TEST_TASK_VAR")));
  for (const auto& v : ray::Get(later)) CHECK(*v == "<unset>");
}

TEST_CASE("ExitActor ends the actor for good") {
  auto counter = ray::Actor(Counter::Create).SetMaxRestarts(3).Remote(0);
  CHECK(*ray::Get(counter.Task(&Counter::Increment).Remote()) == 1);
  CHECK_THROWS_AS(ray::Get(counter.Task(&Counter::Exit).Remote(), 20000),
                  ray::internal::RayActorException);
  std::string error;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline) {
    error = lumen::testing::ErrorMessageOf([&] { ray::Get(counter.Task(&Counter::Get).Remote(), 20000); });
    if (error.find("is dead") != std::string::npos) break;
  }
  CHECK_THAT(error, Catch::Contains("ExitActor"));
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 4); }
