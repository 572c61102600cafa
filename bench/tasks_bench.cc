// Task microbenchmarks, ported from Ray's `ray microbenchmark`, on a private
// local cluster (4 CPUs by default; LUMEN_BENCH_CPUS overrides):
//   single_client_tasks_sync      submit one task, get it, repeat
//   single_client_tasks_async     submit 1,000 tasks, get them all
//   single_client_wait_1k_refs    submit 1,000, ray::Wait for them one by one
//   single_client_get_object_containing_10k_refs
//   tutorial 8 x slow_square(0.5 s) on 4 CPUs, against the 1.0 s ideal
// Each figure is the median of several repetitions, printed next to Ray's
// published figure and, for the synchronous one, to two floors measured in
// this run: a gRPC round trip (a HealthCheck call to the local raylet
// through Lumen's RPC stack) and a bare TCP loopback round trip between two
// threads (what the task channel rides on).
#include <ray/api.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <thread>
#include <vector>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "bench/floors.h"
#include "worker/runtime.h"

namespace {

using lumen::bench::Clock;
using lumen::bench::Median;
using lumen::bench::Rate;
using lumen::bench::TcpFloor;

int SmallValue() { return 0; }
int SlowSquare(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return x * x;
}
std::vector<ray::ObjectRef<int>> CreateObjectContainingRefs(int n) {
  std::vector<ray::ObjectRef<int>> refs;
  refs.reserve(n);
  for (int i = 0; i < n; ++i) refs.push_back(ray::Put(1));
  return refs;
}

void Report(const char* name, double value, const char* unit, double ray, double floor) {
  std::printf("%-46s %12.1f %-8s (Ray: %.0f, x%.1f", name, value, unit, ray, value / ray);
  if (floor > 0) std::printf("; gRPC floor %.0f/s, %.0f%% of it", floor, 100 * value / floor);
  std::printf(")\n");
}

// Round trips per second of a raylet HealthCheck (an empty message, sent
// as raw bytes through gRPC's generic stub) answered by the raylet's loop.
double GrpcFloor() {
  auto channel = grpc::CreateChannel(lumen::worker::LocalRayletAddress(),
                                     grpc::InsecureChannelCredentials());
  grpc::GenericStub stub(channel);
  std::string token = lumen::worker::ClusterToken();
  grpc::Slice no_bytes("");
  grpc::ByteBuffer empty(&no_bytes, 1);
  auto call = [&] {
    grpc::ClientContext ctx;
    ctx.AddMetadata("lumen-token", token);
    grpc::ByteBuffer reply;
    std::promise<bool> done;
    stub.UnaryCall(&ctx, "/lumen.rpc.RayletService/HealthCheck", grpc::StubOptions(), &empty,
                   &reply, [&](grpc::Status s) { done.set_value(s.ok()); });
    return done.get_future().get();
  };
  if (!call()) return 0;
  return Rate(5, 2000, [&] {
    for (int i = 0; i < 2000; ++i) call();
  });
}

}  // namespace

RAY_REMOTE(SmallValue, SlowSquare, CreateObjectContainingRefs);

int main(int argc, char** argv) {
  ray::RayConfig config;
  const char* cpus = std::getenv("LUMEN_BENCH_CPUS");
  // The size of the private cluster; a cluster joined through RAY_ADDRESS
  // has its own (and ray::Init refuses local-cluster settings when joining).
  const char* address = std::getenv("RAY_ADDRESS");
  if (address == nullptr || *address == '\0') config.num_cpus = cpus ? std::atoi(cpus) : 4;
  ray::Init(config, argc, argv);
  // Warm up: every prestarted worker registered and leased once.
  for (int i = 0; i < 3; ++i) {
    std::vector<ray::ObjectRef<int>> warm;
    for (int j = 0; j < 200; ++j) warm.push_back(ray::Task(SmallValue).Remote());
    ray::Get(warm);
  }
  double floor = GrpcFloor();
  if (floor > 0) std::printf("%-46s %12.1f /s\n", "grpc_round_trip_floor (raylet HealthCheck)", floor);
  double tcp_floor = TcpFloor();
  std::printf("%-46s %12.1f /s\n", "tcp_loopback_round_trip_floor", tcp_floor);

  double last_sync_rate = 0;
  Report("single_client_tasks_sync", last_sync_rate = Rate(5, 1000, [] {
           for (int i = 0; i < 1000; ++i) ray::Get(ray::Task(SmallValue).Remote());
         }), "tasks/s", 970, floor);
  std::printf("%-46s (a task round trip costs %.1f TCP round trips)\n", "",
              tcp_floor / last_sync_rate);

  // 25 rounds of about 8 ms each: 5 were too short a window, where one
  // process's periodic work (a flush, a health check) decided the figure.
  Report("single_client_tasks_async", Rate(25, 1000, [] {
           std::vector<ray::ObjectRef<int>> refs;
           refs.reserve(1000);
           for (int i = 0; i < 1000; ++i) refs.push_back(ray::Task(SmallValue).Remote());
           ray::Get(refs);
         }), "tasks/s", 8000, 0);

  Report("single_client_wait_1k_refs", Rate(5, 1, [] {
           std::vector<ray::ObjectRef<int>> not_ready;
           for (int i = 0; i < 1000; ++i) not_ready.push_back(ray::Task(SmallValue).Remote());
           while (!not_ready.empty()) {
             auto result = ray::Wait(not_ready, 1, -1);
             not_ready.assign(result.unready.begin(), result.unready.end());
           }
         }), "rounds/s", 5, 0);

  Report("single_client_get_object_containing_10k_refs", Rate(5, 1, [] {
           auto ref = ray::Task(CreateObjectContainingRefs).Remote(10000);
           auto refs = ray::Get(ref);
           if (refs->size() != 10000) std::abort();
         }), "gets/s", 13, 0);

  std::vector<double> walls;
  for (int r = 0; r < 3; ++r) {
    auto start = Clock::now();
    std::vector<ray::ObjectRef<int>> futures;
    for (int i = 0; i < 8; ++i) futures.push_back(ray::Task(SlowSquare).Remote(i));
    ray::Get(futures);
    walls.push_back(std::chrono::duration<double>(Clock::now() - start).count());
  }
  std::printf("%-46s %12.3f s       (ideal 1.000 s with 4 CPUs: x%.3f)\n",
              "tutorial_8x_slow_square_0.5s", Median(walls), Median(walls) / 1.0);
  ray::Shutdown();
  return 0;
}
