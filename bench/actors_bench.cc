// Actor microbenchmarks, ported from Ray's `ray microbenchmark`
// (python/ray/_private/ray_perf.py), on a private local cluster (4 CPUs by
// default; LUMEN_BENCH_CPUS overrides):
//   1_1_actor_calls_sync        one caller, one actor: call, Get, repeat
//   1_1_actor_calls_async       1,000 calls in flight, then Get them all
//   1_1_actor_calls_concurrent  the same to an actor with max_concurrency 16
//   n_n_actor_calls_async       N caller actors (N = this machine's CPUs),
//                               each with its own target actor, 1,000 calls
//                               in flight each; total calls/s
//   actor_creation_200          create 200 actors, call each once, Get all
//   actor_creation_prestarted   as many actors as the raylet keeps
//                               prestarted idle workers for the job (one per
//                               node CPU), created the same way
// Each figure is the median of several repetitions, printed beside Ray's
// published figure and the floors measured in this run: a TCP loopback
// round trip under the synchronous calls, and under the creations the
// process-start floor: fork+exec+exit of /bin/true and of this very
// executable (what a worker runs) with --exit-at-once, one and two at a
// time, forked from a small helper process. Each floor is measured right
// before each repetition of its figure, and the ratio printed is the median
// of the per-repetition ratios, so a build running beside the benchmark
// skews figure and floor alike.
// Actors hold no CPU (the default), so all 200 fit beside the callers.
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "bench/floors.h"

namespace {

using lumen::bench::Clock;
using lumen::bench::Median;
using lumen::bench::Rate;
using lumen::bench::SecondsSince;

// Modes of this binary for the process-start floors (see main).
constexpr const char* kExitAtOnce = "--exit-at-once";
constexpr const char* kMeasureFloors = "--measure-process-floors";

class Server {
 public:
  static Server* Create() { return new Server(); }
  int SmallValue() { return 0; }
  int Pid() { return static_cast<int>(::getpid()); }
};

// A caller living in its own worker, holding a handle to its own server
// (Ray's n:n Client).
class Client {
 public:
  explicit Client(ray::ActorHandle<Server> server) : server_(std::move(server)) {}
  static Client* Create(ray::ActorHandle<Server> server) { return new Client(std::move(server)); }
  int SmallValueBatch(int n) {
    std::vector<ray::ObjectRef<int>> refs;
    refs.reserve(n);
    for (int i = 0; i < n; ++i) refs.push_back(server_.Task(&Server::SmallValue).Remote());
    ray::Get(refs);
    return n;
  }

 private:
  ray::ActorHandle<Server> server_;
};

// A task that keeps a CPU (and so a worker) busy for a while: `n` of them at
// once make the pool hold `n` registered workers; returns its worker's pid.
int BusyPid(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return static_cast<int>(::getpid());
}

// `ray`: Ray's published figure, or 0 where it publishes none.
void Report(const char* name, double value, const char* unit, double ray) {
  if (ray > 0) {
    std::printf("%-46s %12.1f %-9s (Ray: %.0f, x%.1f)\n", name, value, unit, ray, value / ray);
  } else {
    std::printf("%-46s %12.1f %s\n", name, value, unit);
  }
}

void KillAll(const std::vector<ray::ActorHandle<Server>>& actors) {
  for (const auto& a : actors) a.Kill();
}

// Whether process `pid` has exited (gone, or a zombie not yet reaped).
bool Exited(int pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] == 'Z';
}

// Kills `actors` and waits (up to 30 s) until their processes `pids` have
// exited, so that the next measurement does not pay for their teardown.
void KillAndWait(const std::vector<ray::ActorHandle<Server>>& actors, const std::set<int>& pids) {
  KillAll(actors);
  auto start = Clock::now();
  for (int pid : pids) {
    while (!Exited(pid) && SecondsSince(start) < 30) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

// 1,000 calls in flight to `actor`, then Get them all.
void CallsAsync(const ray::ActorHandle<Server>& actor) {
  std::vector<ray::ObjectRef<int>> refs;
  refs.reserve(1000);
  for (int i = 0; i < 1000; ++i) refs.push_back(actor.Task(&Server::SmallValue).Remote());
  ray::Get(refs);
}

// Median of the per-repetition ratios a[i] / b[i] (0 where b[i] is 0).
double MedianRatio(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> ratios;
  for (size_t i = 0; i < a.size(); ++i) ratios.push_back(b[i] > 0 ? a[i] / b[i] : 0);
  return Median(ratios);
}

void CallBenchmarks() {
  auto sync_actor = ray::Actor(Server::Create).Remote();
  ray::Get(sync_actor.Task(&Server::SmallValue).Remote());
  // The TCP floor is measured right before each repetition, under the same load.
  std::vector<double> tcp_floors, syncs;
  for (int r = 0; r < 5; ++r) {
    tcp_floors.push_back(lumen::bench::TcpFloor());
    syncs.push_back(Rate(1, 1000, [&] {
      for (int i = 0; i < 1000; ++i) ray::Get(sync_actor.Task(&Server::SmallValue).Remote());
    }));
  }
  std::printf("%-46s %12.1f /s\n", "tcp_loopback_round_trip_floor", Median(tcp_floors));
  Report("1_1_actor_calls_sync", Median(syncs), "calls/s", 2000);
  std::printf("%-46s (a call costs %.1f TCP round trips)\n", "", MedianRatio(tcp_floors, syncs));

  auto async_actor = ray::Actor(Server::Create).Remote();
  CallsAsync(async_actor);
  Report("1_1_actor_calls_async", Rate(5, 1000, [&] { CallsAsync(async_actor); }), "calls/s",
         8000);

  auto concurrent_actor = ray::Actor(Server::Create).SetMaxConcurrency(16).Remote();
  CallsAsync(concurrent_actor);
  Report("1_1_actor_calls_concurrent", Rate(5, 1000, [&] { CallsAsync(concurrent_actor); }),
         "calls/s", 5000);
  KillAll({sync_actor, async_actor, concurrent_actor});
}

void NToNBenchmark(int n_callers) {
  constexpr int kCallsEach = 1000;
  std::vector<ray::ActorHandle<Server>> servers;
  std::vector<ray::ActorHandle<Client>> clients;
  for (int i = 0; i < n_callers; ++i) {
    servers.push_back(ray::Actor(Server::Create).Remote());
    clients.push_back(ray::Actor(Client::Create).Remote(servers.back()));
  }
  auto round = [&] {
    std::vector<ray::ObjectRef<int>> refs;
    for (auto& c : clients) refs.push_back(c.Task(&Client::SmallValueBatch).Remote(kCallsEach));
    ray::Get(refs);
  };
  round();
  char name[64];
  std::snprintf(name, sizeof(name), "n_n_actor_calls_async (N=%d)", n_callers);
  Report(name, Rate(5, n_callers * kCallsEach, round), "calls/s", 27000);
  KillAll(servers);
  for (const auto& c : clients) c.Kill();
}

// Creates `n` actors, calls each once and waits for every answer. Returns
// the seconds taken; `pids` receives the actors' worker pids.
double CreateAndWait(int n, std::vector<ray::ActorHandle<Server>>* actors, std::set<int>* pids) {
  auto start = Clock::now();
  for (int i = 0; i < n; ++i) actors->push_back(ray::Actor(Server::Create).Remote());
  std::vector<ray::ObjectRef<int>> refs;
  for (const auto& a : *actors) refs.push_back(a.Task(&Server::Pid).Remote());
  auto answers = ray::Get(refs);
  double seconds = SecondsSince(start);
  for (const auto& pid : answers) pids->insert(*pid);
  if (static_cast<int>(pids->size()) != n) {
    std::fprintf(stderr, "%d actors answered from %zu processes\n", n, pids->size());
    std::abort();
  }
  return seconds;
}

// The pids of `n` workers of the job, made to exist and registered by `n`
// tasks that run at once; their leases are given back before it returns.
std::set<int> FillPool(int n) {
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < n; ++i) refs.push_back(ray::Task(BusyPid).Remote(300));
  std::set<int> pids;
  for (const auto& pid : ray::Get(refs)) pids.insert(*pid);
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // Leases go back idle.
  return pids;
}

void PrestartedCreation(int prestart) {
  std::vector<double> rates;
  int in_pool = 0;
  int total = 0;
  for (int r = 0; r < 5; ++r) {
    std::set<int> pool = FillPool(prestart);
    std::vector<ray::ActorHandle<Server>> actors;
    std::set<int> pids;
    rates.push_back(prestart / CreateAndWait(prestart, &actors, &pids));
    for (int pid : pids) in_pool += static_cast<int>(pool.count(pid));
    total += prestart;
    KillAndWait(actors, pids);
  }
  char name[64];
  std::snprintf(name, sizeof(name), "actor_creation_prestarted (%d actors)", prestart);
  Report(name, Median(rates), "actors/s", 0);
  std::printf("%-46s (goal 200/s; %d of %d actors ran in a worker that was idle before)\n", "",
              in_pool, total);
}

std::string SelfPath() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  return n > 0 ? std::string(buf, n) : std::string();
}

// Run as `this-binary --measure-process-floors`: prints processes/s of
// /bin/true and of this binary, one and two at a time, forked from this
// small fresh process (not from the driver, whose many threads and mappings
// make each fork dearer than the raylet's).
void MeasureFloorsHere() {
  using lumen::bench::ProcessStartFloor;
  std::vector<std::string> bin_true = {"/bin/true"};
  std::vector<std::string> self = {SelfPath(), kExitAtOnce};
  std::printf("%f %f %f %f\n", ProcessStartFloor(bin_true, 1, 200, 1),
              ProcessStartFloor(bin_true, 2, 200, 1), ProcessStartFloor(self, 1, 40, 1),
              ProcessStartFloor(self, 2, 40, 1));
}

// The process-start floors, each measured right before one repetition of
// the creation so that both see the same load.
struct ProcessFloors {
  std::vector<double> true_one, true_two, self_one, self_two;

  void Measure() {
    std::string command = SelfPath() + " " + kMeasureFloors;
    FILE* helper = ::popen(command.c_str(), "r");
    double a = 0, b = 0, c = 0, d = 0;
    if (helper == nullptr || std::fscanf(helper, "%lf %lf %lf %lf", &a, &b, &c, &d) != 4) {
      std::fprintf(stderr, "cannot measure the process-start floors with %s\n", command.c_str());
    }
    if (helper != nullptr) ::pclose(helper);
    true_one.push_back(a);
    true_two.push_back(b);
    self_one.push_back(c);
    self_two.push_back(d);
  }
  void Print() const {
    std::printf("%-46s %12.1f /s\n", "process_start_floor /bin/true, 1 at a time", Median(true_one));
    std::printf("%-46s %12.1f /s\n", "process_start_floor /bin/true, 2 at a time", Median(true_two));
    std::printf("%-46s %12.1f /s\n", "process_start_floor this binary, 1 at a time",
                Median(self_one));
    std::printf("%-46s %12.1f /s\n", "process_start_floor this binary, 2 at a time",
                Median(self_two));
  }
};

void BulkCreation() {
  constexpr int kActors = 200;
  ProcessFloors floors;
  std::vector<double> rates;
  for (int r = 0; r < 3; ++r) {
    floors.Measure();
    std::vector<ray::ActorHandle<Server>> actors;
    std::set<int> pids;
    rates.push_back(kActors / CreateAndWait(kActors, &actors, &pids));
    KillAndWait(actors, pids);
  }
  floors.Print();
  Report("actor_creation_200", Median(rates), "actors/s", 0);
  std::printf("%-46s (x%.2f the /bin/true floor, 2 at a time)\n", "",
              MedianRatio(rates, floors.true_two));
  std::printf("%-46s (x%.2f this binary's floor, 2 at a time; goal x0.8)\n", "",
              MedianRatio(rates, floors.self_two));
}

}  // namespace

RAY_REMOTE(Server::Create, &Server::SmallValue, &Server::Pid, Client::Create,
           &Client::SmallValueBatch, BusyPid);

int main(int argc, char** argv) {
  // The process-start floor execs this binary with this flag: it pays the
  // same loading as a worker, then exits.
  if (argc > 1 && std::strcmp(argv[1], kExitAtOnce) == 0) return 0;
  if (argc > 1 && std::strcmp(argv[1], kMeasureFloors) == 0) {
    MeasureFloorsHere();
    return 0;
  }
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // Each figure shows as it is measured.
  ray::RayConfig config;
  const char* cpus = std::getenv("LUMEN_BENCH_CPUS");
  int node_cpus = cpus ? std::atoi(cpus) : 4;
  // The size of the private cluster; a cluster joined through RAY_ADDRESS
  // has its own (LUMEN_BENCH_CPUS should then say the local node's CPUs,
  // the count of workers its raylet prestarts per job).
  const char* address = std::getenv("RAY_ADDRESS");
  if (address == nullptr || *address == '\0') config.num_cpus = node_cpus;
  ray::Init(config, argc, argv);
  // Warm up: every prestarted worker registered and leased once.
  FillPool(node_cpus);

  CallBenchmarks();
  int n_callers = static_cast<int>(std::thread::hardware_concurrency());
  NToNBenchmark(n_callers > 0 ? n_callers : 2);
  PrestartedCreation(node_cpus);
  BulkCreation();
  ray::Shutdown();
  return 0;
}
