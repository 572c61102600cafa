// Real-process tests of lumen-raylet: flag errors, an unreachable GCS,
// leases served by real (fake) worker processes, and — when lumen-gcs is
// part of the build — registration with a real GCS. Every process started
// here is killed by process group when a test ends, pass or fail, and every
// wait has a deadline.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <thread>

#include "common/id.h"
#include "common/process.h"
#include "common/rpc/client.h"
#include "proto/gcs.grpc.pb.h"
#include "proto/raylet.grpc.pb.h"

using namespace lumen;
using namespace std::chrono_literals;

namespace {

constexpr char kToken[] = "raylet-process-test-token";

// A scratch directory and the processes started in it.
class Processes {
 public:
  Processes() {
    char pattern[] = "/tmp/lumen-raylet-test-XXXXXX";
    dir = ::mkdtemp(pattern);
  }
  ~Processes() {
    for (pid_t pid : pids_) KillProcessGroup(pid, SIGKILL);
    for (pid_t pid : pids_) WaitForExit(pid, 5000);
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  pid_t Start(std::vector<std::string> argv, const std::string& log_name,
              const std::string& token = kToken) {
    ProcessOptions options;
    options.argv = std::move(argv);
    options.env = {{"LUMEN_TOKEN", token}, {"LUMEN_TEMP_DIR", dir}, {"GLOG_v", "1"}};
    options.log_file = dir + "/" + log_name;
    options.die_with_parent = true;
    auto pid = StartProcess(options);
    REQUIRE(pid.ok());
    pids_.push_back(*pid);
    return *pid;
  }
  std::string dir;

 private:
  std::vector<pid_t> pids_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Polls `done` every 20 ms until it holds or `timeout` passes.
template <typename Fn>
bool WaitUntil(Fn done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(20ms);
  }
  return done();
}

std::optional<int> WaitForPortFile(const std::string& path) {
  std::optional<int> port;
  WaitUntil(
      [&] {
        std::string text = ReadFile(path);
        if (!text.empty()) port = std::stoi(text);
        return port.has_value();
      },
      15s);
  return port;
}

// The waitpid status of our child `pid`, or nullopt if it is still running.
std::optional<int> WaitForExitStatus(pid_t pid, std::chrono::milliseconds timeout) {
  std::optional<int> result;
  WaitUntil(
      [&] {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid) result = status;
        return result.has_value();
      },
      timeout);
  return result;
}

int UnusedPort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool ProcessGone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

TEST_CASE("an unreachable GCS makes the raylet exit non-zero with one clear line") {
  Processes p;
  std::string gcs = "127.0.0.1:" + std::to_string(UnusedPort());
  pid_t raylet = p.Start({LUMEN_RAYLET_BIN, "--gcs-address=" + gcs, "--gcs-connect-timeout-s=1",
                          "--session-dir=" + p.dir + "/session"},
                         "raylet.out");
  auto status = WaitForExitStatus(raylet, 15s);
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 1);
  std::string log = ReadFile(p.dir + "/raylet.out");
  CAPTURE(log);
  CHECK(log.find("lumen-raylet: cannot reach GCS at " + gcs + " after 1s\n") != std::string::npos);
}

TEST_CASE("malformed --resources is one clear line and exit code 1") {
  Processes p;
  pid_t raylet = p.Start({LUMEN_RAYLET_BIN, "--gcs-address=127.0.0.1:1", "--resources={\"a\": "},
                         "raylet.out");
  auto status = WaitForExitStatus(raylet, 10s);
  REQUIRE(status.has_value());
  CHECK(WEXITSTATUS(*status) == 1);
  CHECK(ReadFile(p.dir + "/raylet.out").find("lumen-raylet: --resources is not valid JSON") !=
        std::string::npos);
}

namespace {

rpc::GetNodeStatsReply Stats(rpc::RpcClient<rpc::RayletService>& raylet) {
  auto stats =
      raylet.CallSync(&rpc::RayletService::Stub::GetNodeStats, rpc::GetNodeStatsRequest(), 5000);
  REQUIRE(stats.ok());
  return *stats;
}

// Sends `request`; it must be granted.
rpc::RequestWorkerLeaseReply Granted(rpc::RpcClient<rpc::RayletService>& raylet,
                                     const rpc::RequestWorkerLeaseRequest& request) {
  auto reply = raylet.CallSync(&rpc::RayletService::Stub::RequestWorkerLease, request, 15000);
  REQUIRE(reply.ok());
  CAPTURE(reply->error());
  REQUIRE_FALSE(reply->rejected());
  return *reply;
}

rpc::RequestWorkerLeaseReply Lease(rpc::RpcClient<rpc::RayletService>& raylet, const JobId& job) {
  rpc::RequestWorkerLeaseRequest request;
  request.set_job_id(job.Binary());
  (*request.mutable_resources())["CPU"] = 1;
  return Granted(raylet, request);
}

// This test process plays the job's driver; its workers are the fake worker.
rpc::RegisterWorkerReply RegisterDriver(rpc::RpcClient<rpc::RayletService>& raylet,
                                        const JobId& job, const WorkerId& driver) {
  rpc::RegisterWorkerRequest hello;
  hello.set_is_driver(true);
  hello.set_worker_id(driver.Binary());
  hello.set_job_id(job.Binary());
  hello.set_pid(::getpid());
  hello.mutable_job()->set_driver_executable(LUMEN_FAKE_WORKER_BIN);
  auto node = raylet.CallSync(&rpc::RayletService::Stub::RegisterWorker, hello, 5000);
  REQUIRE(node.ok());
  return *node;
}

}  // namespace

TEST_CASE("real worker processes are started, leased, reaped and killed with their job") {
  Processes p;
  std::string gcs = "127.0.0.1:" + std::to_string(UnusedPort());  // Nobody there: fine for 60 s.
  std::string session = p.dir + "/session";
  p.Start({LUMEN_RAYLET_BIN, "--gcs-address=" + gcs, "--gcs-connect-timeout-s=60", "--num-cpus=2",
           "--num-prestart-workers=1", "--node-ip-address=127.0.0.1", "--session-dir=" + session,
           "--port-file=" + p.dir + "/raylet.port"},
          "raylet.out");
  auto port = WaitForPortFile(p.dir + "/raylet.port");
  REQUIRE(port.has_value());
  rpc::RpcClient<rpc::RayletService> raylet("127.0.0.1:" + std::to_string(*port), kToken);
  REQUIRE(raylet.CallSync(&rpc::RayletService::Stub::HealthCheck, rpc::HealthCheckRequest(), 5000)
              .ok());

  JobId job = JobId::FromInt(7);
  WorkerId driver = WorkerId::FromRandom();
  CHECK(RegisterDriver(raylet, job, driver).session_dir() == session);
  CHECK(WaitUntil([&] { return Stats(raylet).num_idle_workers() == 1; }, 10s));

  rpc::RequestWorkerLeaseReply first = Lease(raylet, job);
  rpc::RequestWorkerLeaseReply second = Lease(raylet, job);  // Needs a second process.
  CHECK(first.worker_address().port() == 1);
  CHECK(first.worker_pid() != second.worker_pid());
  std::string worker_hex = WorkerId::FromBinaryOrNil(first.worker_address().worker_id()).Hex();
  CHECK(ReadFile(session + "/logs/worker-" + worker_hex + "-" +
                 std::to_string(first.worker_pid()) + ".out")
            .find("registered") !=
        std::string::npos);
  CHECK(Stats(raylet).view().available().at("CPU") == 0);

  ::kill(first.worker_pid(), SIGKILL);  // A worker dies: its CPU comes back.
  CHECK(WaitUntil([&] { return Stats(raylet).view().available().at("CPU") == 1; }, 5s));
  rpc::ReturnWorkerRequest give_back;
  give_back.set_lease_id(second.lease_id());
  REQUIRE(raylet.CallSync(&rpc::RayletService::Stub::ReturnWorker, give_back, 5000).ok());
  CHECK(Stats(raylet).view().available().at("CPU") == 2);

  rpc::DisconnectWorkerRequest bye;
  bye.set_worker_id(driver.Binary());
  REQUIRE(raylet.CallSync(&rpc::RayletService::Stub::DisconnectWorker, bye, 5000).ok());
  CHECK(Stats(raylet).num_workers() == 0);
  CHECK(WaitUntil([&] { return ProcessGone(second.worker_pid()); }, 5s));
}

namespace {

rpc::RequestWorkerLeaseReply LeaseForActor(rpc::RpcClient<rpc::RayletService>& raylet,
                                           const JobId& job, bool detached) {
  rpc::RequestWorkerLeaseRequest request;
  request.set_job_id(job.Binary());
  request.set_actor_id(ActorId::Of(job).Binary());
  request.set_detached(detached);
  request.mutable_job()->set_job_id(job.Binary());
  request.mutable_job()->set_driver_executable(LUMEN_FAKE_WORKER_BIN);
  return Granted(raylet, request);
}

}  // namespace

TEST_CASE("actor leases get dedicated real workers; a detached actor's outlives its driver") {
  Processes p;
  std::string gcs = "127.0.0.1:" + std::to_string(UnusedPort());  // Nobody there: fine for 60 s.
  p.Start({LUMEN_RAYLET_BIN, "--gcs-address=" + gcs, "--gcs-connect-timeout-s=60", "--num-cpus=1",
           "--num-prestart-workers=0", "--node-ip-address=127.0.0.1",
           "--session-dir=" + p.dir + "/session", "--port-file=" + p.dir + "/raylet.port"},
          "raylet.out");
  auto port = WaitForPortFile(p.dir + "/raylet.port");
  REQUIRE(port.has_value());
  rpc::RpcClient<rpc::RayletService> raylet("127.0.0.1:" + std::to_string(*port), kToken);

  // A job whose driver never registered here: known from the lease's JobInfo.
  JobId remote = JobId::FromInt(8);
  rpc::RequestWorkerLeaseReply remote_actor = LeaseForActor(raylet, remote, false);
  rpc::ReturnWorkerRequest give_back;
  give_back.set_lease_id(remote_actor.lease_id());  // Not marked exiting: killed anyway.
  REQUIRE(raylet.CallSync(&rpc::RayletService::Stub::ReturnWorker, give_back, 5000).ok());
  CHECK(WaitUntil([&] { return ProcessGone(remote_actor.worker_pid()); }, 5s));

  // A driver's job: three zero-CPU actors on a one-CPU node, three processes.
  JobId job = JobId::FromInt(7);
  WorkerId driver = WorkerId::FromRandom();
  RegisterDriver(raylet, job, driver);
  rpc::RequestWorkerLeaseReply regular = LeaseForActor(raylet, job, false);
  rpc::RequestWorkerLeaseReply regular2 = LeaseForActor(raylet, job, false);
  rpc::RequestWorkerLeaseReply detached = LeaseForActor(raylet, job, true);
  CHECK(regular.worker_pid() != regular2.worker_pid());
  CHECK(regular2.worker_pid() != detached.worker_pid());
  CHECK(Stats(raylet).view().available().at("CPU") == 1);

  rpc::DisconnectWorkerRequest bye;
  bye.set_worker_id(driver.Binary());
  REQUIRE(raylet.CallSync(&rpc::RayletService::Stub::DisconnectWorker, bye, 5000).ok());
  CHECK(WaitUntil([&] { return ProcessGone(regular.worker_pid()); }, 5s));
  CHECK(WaitUntil([&] { return ProcessGone(regular2.worker_pid()); }, 5s));
  CHECK_FALSE(ProcessGone(detached.worker_pid()));
  CHECK(Stats(raylet).num_workers() == 1);

  give_back.set_lease_id(detached.lease_id());
  REQUIRE(raylet.CallSync(&rpc::RayletService::Stub::ReturnWorker, give_back, 5000).ok());
  CHECK(WaitUntil([&] { return ProcessGone(detached.worker_pid()); }, 5s));
  CHECK(Stats(raylet).num_workers() == 0);
}

#if defined(LUMEN_GCS_BIN) && defined(LUMEN_PLASMA_BIN)
// Not run by ctest ([.]): how fast zero-CPU actor leases get real
// lumen-worker processes for each start concurrency (max(2, --num-cpus)).
// Run: raylet_process_test "[start_rate]" -s. Checks only that every lease
// got its own process; the rates go to the output (docs/raylet.md quotes
// them).
TEST_CASE("actor lease start rate by start concurrency", "[.][start_rate]") {
  const int cpus = GENERATE(1, 3, 4, 8);
  constexpr int kLeases = 24;
  Processes p;
  p.Start({LUMEN_GCS_BIN, "--port=0", "--port-file=" + p.dir + "/gcs.port"}, "gcs.out");
  auto gcs_port = WaitForPortFile(p.dir + "/gcs.port");
  REQUIRE(gcs_port.has_value());
  // Real workers connect to the node's plasma store at start.
  const std::string plasma = p.dir + "/plasma.sock";
  p.Start({LUMEN_PLASMA_BIN, "--socket=" + plasma, "--object-store-memory=67108864"}, "plasma.out");
  REQUIRE(WaitUntil([&] { return std::filesystem::exists(plasma); }, 10s));
  p.Start({LUMEN_RAYLET_BIN, "--gcs-address=127.0.0.1:" + std::to_string(*gcs_port),
           "--plasma-socket=" + plasma, "--object-store-memory=67108864",
           "--num-cpus=" + std::to_string(cpus), "--num-prestart-workers=0",
           "--node-ip-address=127.0.0.1", "--session-dir=" + p.dir + "/session",
           "--port-file=" + p.dir + "/raylet.port"},
          "raylet.out");
  auto port = WaitForPortFile(p.dir + "/raylet.port");
  REQUIRE(port.has_value());
  rpc::RpcClient<rpc::RayletService> raylet("127.0.0.1:" + std::to_string(*port), kToken);
  // A library for lumen-worker to load: the API library itself (build/lib).
  const std::string library =
      std::filesystem::path(LUMEN_RAYLET_BIN).parent_path().parent_path() / "lib/liblumen_ray.so";
  REQUIRE(std::filesystem::exists(library));
  JobId job = JobId::FromInt(11);
  std::vector<std::thread> threads;
  std::vector<int> pids(kLeases, 0);
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kLeases; ++i) {
    threads.emplace_back([&, i] {
      rpc::RequestWorkerLeaseRequest request;
      request.set_job_id(job.Binary());
      request.set_actor_id(ActorId::Of(job).Binary());
      request.mutable_job()->set_job_id(job.Binary());
      request.mutable_job()->add_code_search_path(library);
      auto reply = raylet.CallSync(&rpc::RayletService::Stub::RequestWorkerLease, request, 60000);
      if (reply.ok() && !reply->rejected()) pids[i] = reply->worker_pid();
    });
  }
  for (auto& thread : threads) thread.join();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::set<int> distinct(pids.begin(), pids.end());
  CAPTURE(ReadFile(p.dir + "/raylet.out"));
  CHECK(distinct.size() == kLeases);
  CHECK(distinct.count(0) == 0);
  std::printf("start concurrency %d: %d actor leases in %.2f s = %.1f/s\n", std::max(2, cpus),
              kLeases, seconds, kLeases / seconds);
}
#endif

#ifdef LUMEN_GCS_BIN
TEST_CASE("the raylet registers with a real GCS and unregisters on SIGTERM") {
  Processes p;
  p.Start({LUMEN_GCS_BIN, "--port=0", "--port-file=" + p.dir + "/gcs.port"}, "gcs.out");
  auto gcs_port = WaitForPortFile(p.dir + "/gcs.port");
  REQUIRE(gcs_port.has_value());
  std::string gcs_address = "127.0.0.1:" + std::to_string(*gcs_port);
  pid_t raylet =
      p.Start({LUMEN_RAYLET_BIN, "--gcs-address=" + gcs_address, "--num-cpus=4", "--num-gpus=0",
               "--resources={\"custom_thing\": 2.5}", "--head", "--node-ip-address=127.0.0.1",
               "--session-dir=" + p.dir + "/session", "--port-file=" + p.dir + "/raylet.port"},
              "raylet.out");
  auto raylet_port = WaitForPortFile(p.dir + "/raylet.port");
  REQUIRE(raylet_port.has_value());

  // A node with the wrong token is refused at once, with the reason.
  pid_t intruder = p.Start(
      {LUMEN_RAYLET_BIN, "--gcs-address=" + gcs_address, "--session-dir=" + p.dir + "/session"},
      "intruder.out", "wrong-token");
  auto refused = WaitForExitStatus(intruder, 10s);
  REQUIRE(refused.has_value());
  CHECK(WEXITSTATUS(*refused) == 1);
  CHECK(ReadFile(p.dir + "/intruder.out").find("missing or wrong cluster token") !=
        std::string::npos);

  rpc::RpcClient<rpc::GcsService> gcs(gcs_address, kToken);
  std::optional<rpc::NodeInfo> node;
  WaitUntil(
      [&] {
        auto nodes =
            gcs.CallSync(&rpc::GcsService::Stub::GetAllNodes, rpc::GetAllNodesRequest(), 2000);
        if (!nodes.ok()) return false;
        for (const auto& n : nodes->nodes()) {
          if (n.raylet_port() == *raylet_port && n.state() == rpc::NodeInfo::ALIVE) node = n;
        }
        return node.has_value();
      },
      15s);
  CAPTURE(ReadFile(p.dir + "/raylet.out"));
  REQUIRE(node.has_value());
  const auto& total = node->resources_total();
  CHECK(total.at("CPU") == 4);
  CHECK(total.at("custom_thing") == 2.5);
  CHECK(total.at("node:127.0.0.1") == 1);
  CHECK(total.at("node:__internal_head__") == 1);
  CHECK(total.count("GPU") == 0);
  CHECK(node->ip() == "127.0.0.1");
  CHECK(node->is_head());

  // Its resource reports reach the GCS.
  CHECK(WaitUntil(
      [&] {
        auto views = gcs.CallSync(&rpc::GcsService::Stub::GetClusterResources,
                                  rpc::GetClusterResourcesRequest(), 2000);
        if (!views.ok()) return false;
        for (const auto& view : views->views()) {
          if (view.node_id() == node->node_id() && view.available().count("CPU") &&
              view.available().at("CPU") == 4) {
            return true;
          }
        }
        return false;
      },
      10s));

  ::kill(raylet, SIGTERM);
  auto status = WaitForExitStatus(raylet, 10s);
  REQUIRE(status.has_value());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(WaitUntil(
      [&] {
        auto nodes =
            gcs.CallSync(&rpc::GcsService::Stub::GetAllNodes, rpc::GetAllNodesRequest(), 2000);
        if (!nodes.ok()) return false;
        for (const auto& n : nodes->nodes()) {
          if (n.node_id() == node->node_id()) return n.state() == rpc::NodeInfo::DEAD;
        }
        return false;
      },
      10s));
}
#else
TEST_CASE("registration with a real GCS (skipped: lumen-gcs is not part of this build)") {
  WARN("lumen-gcs target missing; the GCS registration test did not run");
}
#endif
