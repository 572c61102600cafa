// RayConfig::local_mode through the real API, with no cluster: tasks run
// in the driver at submission (values, ObjectRef arguments, a DAG, nested
// tasks), task errors as RayTaskException, Put/Get/Wait, actors (state,
// names and namespaces, the name clash error, Kill, ExitActor, a failing
// factory, max_concurrency, calls from many threads), RuntimeEnv env_vars,
// no process or socket of a cluster, 100,000 tasks leaving the store empty,
// and Init after Shutdown.
#include <ray/api.h>
#include <sys/types.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <condition_variable>
#include <cstdlib>
#include <dirent.h>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "worker/runtime.h"

namespace {

int Plus(int a, int b) { return a + b; }
int Square(int x) { return x * x; }
int Pid() { return ::getpid(); }
int Throws(int x) {
  if (x > 0) throw std::runtime_error("boom " + std::to_string(x));
  return x;
}
std::string EnvOf(std::string name) {
  const char* v = std::getenv(name.c_str());
  return v ? v : "<unset>";
}
std::atomic<int> g_ran{0};
int Mark(int x) {
  g_ran = x;
  return x;
}
// A task taking the reference itself and getting it.
int Deref(ray::ObjectRef<int> ref) { return *ref.Get() + 1; }
// A nested task: submits and gets another one.
int SumOfSquares(int a, int b) {
  return *ray::Task(Square).Remote(a).Get() + *ray::Task(Square).Remote(b).Get();
}
int CallExitActor() {
  ray::ExitActor();
  return 0;
}
RAY_REMOTE(Plus, Square, Pid, Throws, EnvOf, Mark, Deref, SumOfSquares, CallExitActor);

class Counter {
 public:
  explicit Counter(int start) : value_(start) {}
  static Counter* Create(int start) { return new Counter(start); }
  static Counter* CreateThrowing(int start) { throw std::invalid_argument("bad start " + std::to_string(start)); }
  int Add(int n) { return value_ += n; }
  int Get() const { return value_; }
  std::string Env(std::string name) { return EnvOf(name); }
  int Exit() {
    ray::ExitActor();
    return 0;
  }
  // Counts overlapping calls: the most seen at once.
  int Overlap() {
    int now = ++running_;
    int seen = max_seen_.load();
    while (now > seen && !max_seen_.compare_exchange_weak(seen, now)) {
    }
    for (int i = 0; i < 20; ++i) std::this_thread::yield();  // Room for another call to enter.
    --running_;
    return max_seen_.load();
  }
  // Blocks until `parties` calls are inside at once: 1 when they met.
  int Meet(int parties) {
    std::unique_lock<std::mutex> lock(mu_);
    ++arrived_;
    cv_.notify_all();
    return cv_.wait_for(lock, std::chrono::seconds(60), [&] { return arrived_ >= parties; }) ? 1 : 0;
  }
  // Calls itself through a handle: runs at once, as in Ray's local mode.
  int AddTwiceThroughHandle(ray::ActorHandle<Counter> self) {
    *self.Task(&Counter::Add).Remote(1).Get();
    return *self.Task(&Counter::Add).Remote(1).Get();
  }

 private:
  int value_;
  std::atomic<int> running_{0};
  std::atomic<int> max_seen_{0};
  std::mutex mu_;
  std::condition_variable cv_;
  int arrived_ = 0;
};
RAY_REMOTE(Counter::Create, Counter::CreateThrowing, &Counter::Add, &Counter::Get, &Counter::Env,
           &Counter::Exit, &Counter::Overlap, &Counter::Meet, &Counter::AddTwiceThroughHandle);

int AddThroughHandle(ray::ActorHandle<Counter> counter, int n) {
  return *counter.Task(&Counter::Add).Remote(n).Get();
}
RAY_REMOTE(AddThroughHandle);

// ray::Init(local_mode) for one test case, ray::Shutdown at its end.
class LocalSession {
 public:
  explicit LocalSession(const std::string& ray_namespace = "", int num_cpus = -1) {
    ray::RayConfig config;
    config.local_mode = true;
    config.ray_namespace = ray_namespace;
    config.num_cpus = num_cpus;
    ray::Init(config);
  }
  ~LocalSession() { ray::Shutdown(); }
};

template <typename F>
std::string ErrorOf(F&& call) {
  try {
    call();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "did not throw";
}

size_t StoredObjects() {
  REQUIRE(ray::IsInitialized());
  return lumen::worker::GetRuntimeStats().objects_in_store;
}

// Children of this process, from /proc.
int ChildProcesses() {
  int children = 0;
  DIR* proc = ::opendir("/proc");
  REQUIRE(proc != nullptr);
  while (dirent* entry = ::readdir(proc)) {
    std::ifstream stat(std::string("/proc/") + entry->d_name + "/stat");
    std::string line;
    if (!std::getline(stat, line)) continue;
    std::istringstream rest(line.substr(line.rfind(')') + 1));
    std::string state;
    int ppid = 0;
    rest >> state >> ppid;
    if (ppid == ::getpid()) ++children;
  }
  ::closedir(proc);
  return children;
}

int OpenSockets() {
  int sockets = 0;
  DIR* fds = ::opendir("/proc/self/fd");
  REQUIRE(fds != nullptr);
  while (dirent* entry = ::readdir(fds)) {
    char target[256] = {0};
    std::string path = std::string("/proc/self/fd/") + entry->d_name;
    ssize_t n = ::readlink(path.c_str(), target, sizeof(target) - 1);
    if (n > 0 && std::string(target, n).rfind("socket:", 0) == 0) ++sockets;
  }
  ::closedir(fds);
  return sockets;
}

long ResidentKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

TEST_CASE("Tasks run in the driver at submission: values, ObjectRef arguments, a DAG") {
  LocalSession session;
  REQUIRE(ray::IsInitialized());
  CHECK(*ray::Task(Plus).Remote(1, 2).Get() == 3);
  CHECK(*ray::Task(Pid).Remote().Get() == ::getpid());

  g_ran = 0;
  auto marked = ray::Task(Mark).Remote(7);
  CHECK(g_ran == 7);  // Before any Get: it ran inside Remote().

  auto a = ray::Task(Square).Remote(3);
  auto b = ray::Task(Plus).Remote(a, ray::Put(4));
  auto c = ray::Task(Plus).Remote(b, ray::Task(Square).Remote(b));
  CHECK(*b.Get() == 13);
  CHECK(*ray::Get(c) == 13 + 169);
  auto forty_one = ray::Put(41);
  CHECK(*ray::Task(Deref).Remote(forty_one).Get() == 42);
  // A temporary ref passed as a ref lives until the task has run.
  CHECK(*ray::Task(Deref).Remote(ray::Put(9)).Get() == 10);
  CHECK(*ray::Task(SumOfSquares).Remote(3, 4).Get() == 25);
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 10; ++i) refs.push_back(ray::Task(Square).Remote(i));
  auto values = ray::Get(refs);
  for (int i = 0; i < 10; ++i) CHECK(*values[i] == i * i);
}

TEST_CASE("A task's exception is its object's error, thrown at Get as RayTaskException") {
  LocalSession session;
  auto failed = ray::Task(Throws).Remote(3);
  std::string expected = "task Throws (pid=" + std::to_string(::getpid()) +
                         ", local mode) threw std::runtime_error: boom 3";
  CHECK_THROWS_AS(failed.Get(), ray::internal::RayTaskException);
  CHECK(ErrorOf([&] { failed.Get(); }) == expected);
  // A task depending on it fails with the same error, without running.
  g_ran = 0;
  auto dependent = ray::Task(Mark).Remote(failed);
  CHECK(g_ran == 0);
  CHECK_THROWS_AS(dependent.Get(), ray::internal::RayTaskException);
  CHECK(ErrorOf([&] { dependent.Get(); }) == expected);
  // Get of an id the store never had.
  ray::ObjectRef<int> stranger(ray::internal::RefData{std::string(28, 'x'), ""});
  CHECK_THROWS_AS(stranger.Get(), ray::internal::UnreconstructableException);
  CHECK(ErrorOf([&] { stranger.Get(); }).find("not in the local-mode store") != std::string::npos);
  // ray::ExitActor() outside an actor.
  CHECK(ErrorOf([] { ray::Task(CallExitActor).Remote().Get(); })
            .find("ray::ExitActor() may only be called inside an actor's method") != std::string::npos);
}

TEST_CASE("Put, Get and Wait: everything is ready at once") {
  LocalSession session;
  auto one = ray::Put(std::string("one"));
  auto two = ray::Put(std::string("two"));
  auto three = ray::Task(EnvOf).Remote(std::string("LUMEN_LOCAL_MODE_TEST_UNSET"));
  CHECK(*ray::Get(one) == "one");
  CHECK(*ray::Get(three, 0) == "<unset>");
  ray::WaitResult<std::string> waited = ray::Wait(std::vector{one, two, three}, 2, 0);
  CHECK(waited.ready.size() == 2);
  CHECK(waited.unready.size() == 1);
  waited = ray::Wait(std::vector{one, two, three}, 3, -1);
  CHECK(waited.ready.size() == 3);
}

TEST_CASE("Actors: state, names and namespaces, the clash error, handles in tasks") {
  LocalSession session("local_ns");
  CHECK(ray::GetNamespace() == "local_ns");
  auto counter = ray::Actor(Counter::Create).SetName("counter").Remote(10);
  CHECK(*counter.Task(&Counter::Add).Remote(1).Get() == 11);
  for (int i = 12; i <= 16; ++i) CHECK(*counter.Task(&Counter::Add).Remote(1).Get() == i);
  CHECK(*ray::Task(AddThroughHandle).Remote(counter, 4).Get() == 20);
  CHECK(*counter.Task(&Counter::AddTwiceThroughHandle).Remote(counter).Get() == 22);

  auto found = ray::GetActor<Counter>("counter");
  REQUIRE(found.has_value());
  CHECK(found->ID() == counter.ID());
  CHECK(*found->Task(&Counter::Get).Remote().Get() == 22);
  CHECK_FALSE(ray::GetActor<Counter>("counter", "other_ns").has_value());
  CHECK_FALSE(ray::GetActor<Counter>("nobody").has_value());

  CHECK(ErrorOf([] { ray::Actor(Counter::Create).SetName("counter").Remote(0); }) ==
        "actor name 'counter' is already taken in namespace 'local_ns'");
  // The same name in another namespace is another actor.
  auto other = ray::Actor(Counter::Create).SetName("counter", "other_ns").Remote(100);
  CHECK(ray::GetActor<Counter>("counter", "other_ns")->ID() == other.ID());
  CHECK(*other.Task(&Counter::Get).Remote().Get() == 100);
  CHECK(!ray::WasCurrentActorRestarted());
}

TEST_CASE("Killed, exited and failed actors: calls fail with RayActorException naming why") {
  LocalSession session;
  auto counter = ray::Actor(Counter::Create).SetName("doomed").Remote(1);
  CHECK(*counter.Task(&Counter::Add).Remote(1).Get() == 2);
  counter.Kill();
  auto after_kill = counter.Task(&Counter::Add).Remote(1);
  CHECK_THROWS_AS(after_kill.Get(), ray::internal::RayActorException);
  std::string killed = ErrorOf([&] { after_kill.Get(); });
  CHECK(killed.find("The actor Counter::Create 'doomed'") == 0);
  CHECK(killed.find("is dead: killed by ray::Kill") != std::string::npos);
  CHECK_FALSE(ray::GetActor<Counter>("doomed").has_value());
  // Its name is free again.
  auto again = ray::Actor(Counter::Create).SetName("doomed").Remote(5);
  CHECK(*again.Task(&Counter::Get).Remote().Get() == 5);

  auto exits = ray::Actor(Counter::Create).SetName("exits").Remote(0);
  auto exit_call = exits.Task(&Counter::Exit).Remote();
  CHECK_THROWS_AS(exit_call.Get(), ray::internal::RayActorException);
  CHECK(ErrorOf([&] { exit_call.Get(); }).find("the actor exited by calling ray::ExitActor()") == 0);
  std::string later = ErrorOf([&] { exits.Task(&Counter::Get).Remote().Get(); });
  CHECK(later.find("is dead: the actor exited by calling ray::ExitActor()") != std::string::npos);
  CHECK_FALSE(ray::GetActor<Counter>("exits").has_value());

  auto broken = ray::Actor(Counter::CreateThrowing).Remote(3);
  auto first_call = broken.Task(&Counter::Get).Remote();
  CHECK_THROWS_AS(first_call.Get(), ray::internal::RayActorException);
  CHECK(ErrorOf([&] { first_call.Get(); })
            .find("is dead: the actor's factory threw: task Counter::CreateThrowing (pid=") !=
        std::string::npos);
  CHECK(ErrorOf([&] { first_call.Get(); }).find("threw std::invalid_argument: bad start 3") !=
        std::string::npos);
}

TEST_CASE("max_concurrency bounds overlapping calls from many threads") {
  LocalSession session;
  auto serial = ray::Actor(Counter::Create).Remote(0);
  auto concurrent = ray::Actor(Counter::Create).SetMaxConcurrency(3).Remote(0);
  std::vector<std::thread> threads;
  std::atomic<int> most_serial{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 300; ++i) {
        int seen = *serial.Task(&Counter::Overlap).Remote().Get();
        if (seen > most_serial) most_serial = seen;
        serial.Task(&Counter::Add).Remote(1);
      }
    });
  }
  std::vector<int> met(3, 0);
  for (int t = 0; t < 3; ++t) {
    threads.emplace_back([&, t] { met[t] = *concurrent.Task(&Counter::Meet).Remote(3).Get(); });
  }
  for (auto& thread : threads) thread.join();
  CHECK(most_serial == 1);
  CHECK(*serial.Task(&Counter::Get).Remote().Get() == 1200);  // No lost update.
  CHECK(met == std::vector<int>{1, 1, 1});
}

TEST_CASE("RuntimeEnv env_vars are set around a task and an actor's calls, then restored") {
  LocalSession session;
  ::unsetenv("LUMEN_LOCAL_MODE_VAR");
  ray::RuntimeEnv env;
  env.Set("env_vars", std::map<std::string, std::string>{{"LUMEN_LOCAL_MODE_VAR", "task"}});
  CHECK(*ray::Task(EnvOf).SetRuntimeEnv(env).Remote(std::string("LUMEN_LOCAL_MODE_VAR")).Get() == "task");
  CHECK(EnvOf("LUMEN_LOCAL_MODE_VAR") == "<unset>");

  ray::RuntimeEnv actor_env;
  actor_env.Set("env_vars", std::map<std::string, std::string>{{"LUMEN_LOCAL_MODE_VAR", "actor"}});
  auto actor = ray::Actor(Counter::Create).SetRuntimeEnv(actor_env).Remote(0);
  CHECK(EnvOf("LUMEN_LOCAL_MODE_VAR") == "<unset>");
  CHECK(*actor.Task(&Counter::Env).Remote(std::string("LUMEN_LOCAL_MODE_VAR")).Get() == "actor");
  CHECK(EnvOf("LUMEN_LOCAL_MODE_VAR") == "<unset>");
}

TEST_CASE("Local mode starts no process and opens no socket") {
  int sockets_before = OpenSockets();
  {
    LocalSession session;
    auto counter = ray::Actor(Counter::Create).Remote(0);
    for (int i = 0; i < 100; ++i) {
      ray::Task(Plus).Remote(i, i).Get();
      counter.Task(&Counter::Add).Remote(1).Get();
    }
    CHECK(ChildProcesses() == 0);
    CHECK(OpenSockets() == sockets_before);
    lumen::worker::RuntimeStats stats = lumen::worker::GetRuntimeStats();
    CHECK(stats.session_dir.empty());
    CHECK(stats.daemon_pids.empty());
  }
  CHECK(ChildProcesses() == 0);
}

TEST_CASE("100,000 tasks leave the store empty once their refs are dropped") {
  LocalSession session;
  REQUIRE(StoredObjects() == 0);
  auto counter = ray::Actor(Counter::Create).Remote(0);
  for (int i = 0; i < 10000; ++i) ray::Task(Plus).Remote(i, 1).Get();  // Warm up.
  long rss_before = ResidentKb();
  long sum = 0;
  for (int i = 0; i < 100000; ++i) {
    sum += *ray::Task(Plus).Remote(ray::Put(i), 1).Get();
    if (i % 10 == 0) counter.Task(&Counter::Add).Remote(1);
  }
  CHECK(sum == 100000L * 99999 / 2 + 100000);
  CHECK(StoredObjects() == 0);
  long rss_after = ResidentKb();
  INFO("VmRSS " << rss_before << " kB -> " << rss_after << " kB over 100,000 tasks");
  CHECK(rss_after - rss_before < 32 * 1024);  // A leak of ~300 B a task would pass 32 MB.

  std::vector<ray::ObjectRef<int>> held;
  for (int i = 0; i < 1000; ++i) held.push_back(ray::Task(Square).Remote(i));
  CHECK(StoredObjects() == 1000);
  auto copies = held;
  held.clear();
  CHECK(StoredObjects() == 1000);  // Copies share the reference.
  copies.clear();
  CHECK(StoredObjects() == 0);
  CHECK(*counter.Task(&Counter::Get).Remote().Get() == 10000);
}

TEST_CASE("Calls from many threads at once") {
  LocalSession session;
  auto counter = ray::Actor(Counter::Create).SetMaxConcurrency(4).Remote(0);
  std::vector<std::thread> threads;
  std::atomic<long> sum{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        sum += *ray::Task(Plus).Remote(ray::Put(t), i).Get();
        ray::Get(counter.Task(&Counter::Overlap).Remote());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(sum == 4L * (1999L * 2000 / 2) + 2000L * (0 + 1 + 2 + 3));
  CHECK(StoredObjects() == 0);
}

TEST_CASE("Init after Shutdown, resources, and what local mode refuses") {
  ray::ObjectRef<int> survivor;
  {
    LocalSession session("", 3);
    CHECK(ray::ClusterResources().at("CPU") == 3);
    CHECK(ray::AvailableResources().at("CPU") == 3);
    CHECK(ray::GetNamespace().rfind("anonymous-", 0) == 0);
    survivor = ray::Put(1);
  }
  CHECK_FALSE(ray::IsInitialized());
  CHECK(ErrorOf([] { ray::Put(1); }).find("not initialized") != std::string::npos);
  {
    // RAY_ADDRESS is ignored, as in Ray's local mode.
    ::setenv("RAY_ADDRESS", "127.0.0.1:1", 1);
    LocalSession session;
    ::unsetenv("RAY_ADDRESS");
    CHECK(*ray::Task(Plus).Remote(2, 2).Get() == 4);
    CHECK(ray::ClusterResources().at("CPU") >= 1);
    CHECK_THROWS_AS(survivor.Get(), ray::internal::UnreconstructableException);
  }
  survivor = ray::ObjectRef<int>();  // Dropped while stopped: harmless.

  ray::RayConfig with_address;
  with_address.local_mode = true;
  with_address.address = "127.0.0.1:6379";
  std::string refused = ErrorOf([&] { ray::Init(with_address); });
  CHECK(refused.find("local_mode runs tasks and actors inside this process") != std::string::npos);
  CHECK(refused.find("127.0.0.1:6379") != std::string::npos);
  CHECK_FALSE(ray::IsInitialized());
}
