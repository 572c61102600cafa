// What an unauthenticated gRPC request costs a Lumen daemon: a real
// lumen-gcs (and a real raylet of a `lumen start --head` cluster), a client
// that sends 100 MB requests without the cluster token (or with a wrong
// one), and the daemon's memory read from /proc/<pid>/status. The token is
// checked from the request headers before the body is read
// (common/rpc/server.h), so refused requests must leave both the resident
// set (VmRSS) and its peak (VmHWM) within a few MiB; before that check
// existed every such request was read and parsed whole (four of them raised
// the GCS's peak by 196 MB). An authenticated request over the message
// limit is refused RESOURCE_EXHAUSTED, and the daemons keep serving.
#include <signal.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <future>
#include <sstream>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "common/rpc/auth.h"
#include "common/rpc/client.h"
#include "proto/gcs.grpc.pb.h"
#include "proto/raylet.grpc.pb.h"
#include "tests/harness.h"

namespace lumen::testing {
namespace {

constexpr char kToken[] = "security-grpc-test-token";
constexpr size_t kHugeBytes = 100 * 1000 * 1000;  // Over any limit a Lumen server allows.
// Generous: refused requests should cost a few KiB each.
constexpr long kAllowedGrowthKiB = 16 * 1024;

// A field of /proc/<pid>/status in KiB ("VmRSS", "VmHWM"), -1 if missing.
long StatusKiB(pid_t pid, const std::string& field) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(field + ":", 0) != 0) continue;
    std::istringstream value(line.substr(field.size() + 1));
    long kib = -1;
    value >> kib;
    return kib;
  }
  return -1;
}

// A lumen-gcs on a free port, with kToken, in the sandbox.
struct Gcs {
  Sandbox sandbox;
  pid_t pid = -1;
  std::string address;

  Gcs() {
    const std::string port_file = sandbox.root() + "/gcs.port";
    pid = sandbox.Spawn("gcs",
                        {Sandbox::BinDir() + "/lumen-gcs", "--port", "0", "--port-file", port_file},
                        {{"LUMEN_TOKEN", kToken}});
    REQUIRE(pid > 0);
    REQUIRE(WaitUntil([&] { return !ReadFile(port_file).empty(); }, 30000));
    address = "127.0.0.1:" + std::to_string(std::stoi(ReadFile(port_file)));
  }
  ~Gcs() {
    if (pid > 0 && IsRunning(pid)) ::kill(pid, SIGKILL);
  }
};

// A unary call of `method` with `payload` as its serialized request, from a
// client that ignores Lumen's limits and adds `token` only when not empty
// (an attacker's client, or a stale one).
grpc::Status RawCall(const std::string& address, const std::string& method,
                     const std::string& token, const std::string& payload) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  grpc::GenericStub stub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata(rpc::kTokenMetadataKey, token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Slice slice(payload);
  grpc::ByteBuffer request(&slice, 1);
  grpc::ByteBuffer reply;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&ctx, method, grpc::StubOptions(), &request, &reply,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  return done.get_future().get();
}

// A serialized KvPutRequest carrying `value`.
std::string KvPutPayload(const std::string& value) {
  rpc::KvPutRequest request;
  request.set_ns("test");
  request.set_key("huge");
  request.set_value(value);
  return request.SerializeAsString();
}

// Sends `payload` to `method` of the daemon `pid` four times, without a
// token and with a wrong one; each must be refused UNAUTHENTICATED, and the
// daemon's resident set and peak may grow by kAllowedGrowthKiB at most.
void RequireRefusedCheaply(pid_t pid, const std::string& address, const std::string& method,
                           const std::string& payload) {
  const long rss_before = StatusKiB(pid, "VmRSS");
  const long hwm_before = StatusKiB(pid, "VmHWM");
  REQUIRE(rss_before > 0);
  for (const std::string& token : {std::string(), std::string("wrong-token"), std::string(),
                                   std::string("wrong-token")}) {
    grpc::Status status = RawCall(address, method, token, payload);
    INFO("token '" << token << "': " << status.error_code() << " " << status.error_message());
    CHECK(status.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK(status.error_message() == "missing or wrong cluster token");
  }
  REQUIRE(IsRunning(pid));
  const long rss_after = StatusKiB(pid, "VmRSS");
  const long hwm_after = StatusKiB(pid, "VmHWM");
  WARN(method << ": VmRSS " << rss_before << " -> " << rss_after << " KiB, VmHWM " << hwm_before
              << " -> " << hwm_after << " KiB after 4 refused " << payload.size() << "-byte requests");
  CHECK(rss_after - rss_before <= kAllowedGrowthKiB);
  CHECK(hwm_after - hwm_before <= kAllowedGrowthKiB);
}

// Put then get a small value with the right token, through Lumen's client.
void RequireServesAuthorized(const std::string& address) {
  rpc::RpcClient<rpc::GcsService> client(address, kToken);
  rpc::KvPutRequest put;
  put.set_ns("test");
  put.set_key("small");
  put.set_value("value");
  put.set_overwrite(true);
  auto put_reply = client.CallSync(&rpc::GcsService::Stub::KvPut, put, 30000);
  REQUIRE(put_reply.ok());
  rpc::KvGetRequest get;
  get.set_ns("test");
  get.set_key("small");
  auto got = client.CallSync(&rpc::GcsService::Stub::KvGet, get, 30000);
  REQUIRE(got.ok());
  CHECK(got->value() == "value");
}

}  // namespace

TEST_CASE("100 MB requests without the token are refused UNAUTHENTICATED before the GCS reads them",
          "[integration][security]") {
  Gcs gcs;
  RequireServesAuthorized(gcs.address);  // Warm up: connections, threads, arenas.
  RequireRefusedCheaply(gcs.pid, gcs.address, "/lumen.rpc.GcsService/KvPut",
                        KvPutPayload(std::string(kHugeBytes, 'x')));
  RequireServesAuthorized(gcs.address);
}

TEST_CASE("an authenticated request over the message limit is refused RESOURCE_EXHAUSTED",
          "[integration][security]") {
  Gcs gcs;
  const std::string huge(kHugeBytes, 'x');
  grpc::Status status = RawCall(gcs.address, "/lumen.rpc.GcsService/KvPut", kToken,
                                KvPutPayload(huge));
  INFO(status.error_code() << " " << status.error_message());
  CHECK(status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  WARN("GCS VmHWM after one authenticated 100 MB request: " << StatusKiB(gcs.pid, "VmHWM")
                                                             << " KiB");
  REQUIRE(IsRunning(gcs.pid));
  RequireServesAuthorized(gcs.address);
  // Lumen's own clients refuse to send it at all, before any byte leaves.
  rpc::RpcClient<rpc::GcsService> client(gcs.address, kToken);
  rpc::KvPutRequest put;
  put.set_ns("test");
  put.set_key("huge");
  put.set_value(huge);
  auto reply = client.CallSync(&rpc::GcsService::Stub::KvPut, put, 30000);
  CHECK(absl::IsResourceExhausted(reply.status()));
}

TEST_CASE("100 MB requests without the token are refused UNAUTHENTICATED before the raylet reads them",
          "[integration][security]") {
  Sandbox sandbox;
  CommandResult head =
      sandbox.Lumen({"start", "--head", "--port", std::to_string(Sandbox::FreePort()),
                     "--node-ip-address", "127.0.0.1",  // The raylet is dialled below at 127.0.0.1.
                     "--num-cpus", "1", "--object-store-memory", "33554432"},
                    {{"LUMEN_TOKEN", kToken}});
  INFO(head.Describe());
  REQUIRE(head.exit_code == 0);
  const std::string session_dir = Sandbox::SessionDirFromOutput(head.out);
  const pid_t raylet = sandbox.SessionPids(session_dir)["raylet"];
  REQUIRE(raylet > 0);
  const std::string address =
      "127.0.0.1:" + std::to_string(std::stoi(ReadFile(session_dir + "/raylet_port")));
  rpc::RpcClient<rpc::RayletService> client(address, kToken);
  REQUIRE(client.CallSync(&rpc::RayletService::Stub::HealthCheck, rpc::HealthCheckRequest(), 30000)
              .ok());
  // The body is never parsed: any bytes do.
  RequireRefusedCheaply(raylet, address, "/lumen.rpc.RayletService/HealthCheck",
                        std::string(kHugeBytes, 'x'));
  CHECK(client.CallSync(&rpc::RayletService::Stub::HealthCheck, rpc::HealthCheckRequest(), 30000)
            .ok());
}

}  // namespace lumen::testing
