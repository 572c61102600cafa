// A two-node cluster with mutual TLS (docs/security.md, "TLS between
// nodes"): `lumen start` with --tls-* (the head) and LUMEN_TLS_* (the second
// node), `lumen status` and a driver with the settings see and use it; a
// plaintext gRPC client holding the right token, a TLS client with a
// certificate of another CA, `lumen status` and a driver without TLS, and a
// plaintext connection to a worker's task channel are all refused, and the
// cluster keeps serving. The PKI is made by tests/make_tls_pki.sh.
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

#include "common/rpc/auth.h"
#include "common/rpc/client.h"
#include "common/rpc/tls.h"
#include "proto/gcs.grpc.pb.h"
#include "tests/harness.h"

using lumen::testing::CommandResult;
using lumen::testing::ListeningPorts;
using lumen::testing::Sandbox;
using lumen::testing::WaitUntil;
namespace rpc = lumen::rpc;

namespace {

constexpr char kToken[] = "security-tls-test-token";

bool Has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// GetAllNodes on the GCS at `address` over `channel_tls` (null: plaintext),
// with the cluster token.
grpc::Status GetAllNodes(const std::string& address,
                         const std::shared_ptr<const rpc::TlsCredentials>& channel_tls) {
  auto stub = rpc::GcsService::NewStub(rpc::MakeChannel(address, channel_tls));
  grpc::ClientContext ctx;
  ctx.AddMetadata(rpc::kTokenMetadataKey, kToken);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  rpc::GetAllNodesReply reply;
  return stub->GetAllNodes(&ctx, rpc::GetAllNodesRequest(), &reply);
}

// Connects to loopback `port` in plaintext and sends what a plaintext task
// channel client sends first: a hello frame with the right token. True when
// the server then closes the connection (EOF or reset) within `give_up_ms`
// (a bound so that a server that never closes fails the test, not hangs it).
bool PlainHelloIsRefused(int port, int give_up_ms) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return true;  // Not even accepted.
  }
  std::string frame(13, '\0');
  uint32_t len = sizeof(kToken) - 1;
  std::memcpy(frame.data(), &len, 4);
  frame[4] = 1;  // kHello.
  frame += kToken;
  ::send(fd, frame.data(), frame.size(), MSG_NOSIGNAL);
  bool refused = false;
  pollfd p{fd, POLLIN, 0};
  while (::poll(&p, 1, give_up_ms) == 1) {
    char buffer[512];
    ssize_t r = ::recv(fd, buffer, sizeof(buffer), 0);
    if (r <= 0) {
      refused = true;
      break;
    }  // A TLS server may answer with an alert first; read on.
  }
  ::close(fd);
  return refused;
}

struct TlsCluster {
  Sandbox sandbox;
  std::string pki = sandbox.root() + "/pki";
  std::map<std::string, std::string> token_env{{"LUMEN_TOKEN", kToken}};
  std::map<std::string, std::string> tls_env;
  std::vector<std::string> tls_flags;
  std::string address;

  TlsCluster() {
    REQUIRE(::mkdir(pki.c_str(), 0700) == 0);
    CommandResult made = sandbox.Run({"/bin/bash", std::string(LUMEN_SOURCE_DIR) + "/tests/make_tls_pki.sh", pki});
    REQUIRE(made.exit_code == 0);
    tls_env = token_env;
    tls_env["LUMEN_TLS_CERT"] = pki + "/node.pem";
    tls_env["LUMEN_TLS_KEY"] = pki + "/node.key";
    tls_env["LUMEN_TLS_CA"] = pki + "/ca.pem";
    tls_flags = {"--tls-cert", pki + "/node.pem", "--tls-key", pki + "/node.key", "--tls-ca", pki + "/ca.pem"};
  }

  CommandResult Lumen(std::vector<std::string> args, bool tls) {
    if (tls) args.insert(args.end(), tls_flags.begin(), tls_flags.end());
    return sandbox.Lumen(args, token_env);
  }

  std::shared_ptr<const rpc::TlsCredentials> Load(const std::string& cert, const std::string& key,
                                                  const std::string& ca) {
    auto loaded = rpc::LoadTlsCredentials({pki + "/" + cert, pki + "/" + key, pki + "/" + ca});
    REQUIRE(loaded.ok());
    return *loaded;
  }
};

}  // namespace

TEST_CASE("a TLS cluster serves its TLS clients and refuses every other") {
  TlsCluster c;
  std::string port = std::to_string(Sandbox::FreePort());
  c.address = "127.0.0.1:" + port;
  // The certificates name 127.0.0.1 (make_tls_pki.sh): the head keeps to it
  // rather than advertise the machine's detected address.
  CommandResult head = c.Lumen({"start", "--head", "--port", port, "--node-ip-address", "127.0.0.1",
                                "--num-cpus", "2", "--object-store-memory", "64000000"}, /*tls=*/true);
  INFO(head.Describe());
  REQUIRE(head.exit_code == 0);
  // The second node takes its settings from the environment.
  CommandResult second = c.sandbox.Lumen({"start", "--address", c.address, "--num-cpus", "1",
                                          "--object-store-memory", "64000000"}, c.tls_env);
  INFO(second.Describe());
  REQUIRE(second.exit_code == 0);
  REQUIRE(WaitUntil([&] { return Has(c.Lumen({"status", "--address", c.address}, true).out, "Nodes: 2 alive"); },
                    30000, 200));

  SECTION("clients without TLS are refused") {
    CommandResult plain_status = c.Lumen({"status", "--address", c.address}, /*tls=*/false);
    INFO(plain_status.Describe());
    CHECK(plain_status.exit_code != 0);
    CHECK(!Has(plain_status.out, "alive"));

    grpc::Status plain = GetAllNodes(c.address, nullptr);
    INFO("plain gRPC client with the token: " << plain.error_message());
    CHECK(plain.error_code() == grpc::StatusCode::UNAVAILABLE);

    grpc::Status foreign = GetAllNodes(c.address, c.Load("foreign.pem", "foreign.key", "foreign-ca.pem"));
    INFO("TLS client of another CA: " << foreign.error_message());
    CHECK(foreign.error_code() == grpc::StatusCode::UNAVAILABLE);
    // A certificate of another CA, even when the client trusts the cluster's CA.
    grpc::Status foreign_cert = GetAllNodes(c.address, c.Load("foreign.pem", "foreign.key", "ca.pem"));
    CHECK(foreign_cert.error_code() == grpc::StatusCode::UNAVAILABLE);

    CommandResult plain_driver = c.sandbox.Run({Sandbox::BinDir() + "/tenant_driver_b", "once"},
                                               {{"RAY_ADDRESS", c.address}, {"LUMEN_TOKEN", kToken}}, 60000);
    INFO(plain_driver.Describe());
    CHECK(plain_driver.exit_code != 0);
    CHECK(Has(plain_driver.out + plain_driver.err, "cannot reach the cluster at " + c.address));

    // With TLS it works, and the cluster still serves.
    CHECK(GetAllNodes(c.address, c.Load("node.pem", "node.key", "ca.pem")).ok());
  }

  SECTION("a TLS driver runs tasks; a worker's task channel refuses plaintext") {
    std::map<std::string, std::string> env = c.tls_env;
    env["RAY_ADDRESS"] = c.address;
    std::string stop_file = c.sandbox.root() + "/stop";
    pid_t driver = c.sandbox.Spawn("driver", {Sandbox::BinDir() + "/tenant_driver_b", "loop", stop_file}, env);
    REQUIRE(driver > 0);
    std::string out_file = c.sandbox.root() + "/driver.out";
    REQUIRE(WaitUntil([&] { return Has(lumen::testing::ReadFile(out_file), "ready"); }, 120000, 100));
    std::vector<pid_t> workers;
    // The job's workers run the driver's executable (no code search path).
    for (pid_t pid : c.sandbox.MarkedProcesses()) {
      std::vector<std::string> argv = lumen::testing::CommandLineOf(pid);
      if (pid != driver && !argv.empty() &&
          std::filesystem::path(argv[0]).filename() == "tenant_driver_b") {
        workers.push_back(pid);
      }
    }
    INFO("marked processes: " << c.sandbox.MarkedProcesses().size());
    REQUIRE(!workers.empty());

    // Every port a worker listens on (its gRPC server and its task channel)
    // closes a plaintext connection that sends a hello with the right token,
    // while the driver's tasks keep running over TLS.
    int probed = 0;
    for (pid_t worker : workers) {
      for (int port : ListeningPorts(worker)) {
        INFO("worker " << worker << " port " << port);
        CHECK(PlainHelloIsRefused(port, 10000));
        ++probed;
      }
    }
    CHECK(probed >= 2 * static_cast<int>(workers.size()));  // gRPC and task channel each.

    std::ofstream(stop_file) << "stop\n";
    std::optional<int> code = c.sandbox.WaitForChild(driver, 60000);
    std::string out = lumen::testing::ReadFile(out_file);
    INFO(out);
    CHECK(code == 0);
    CHECK(Has(out, "done count="));
    CHECK(!Has(out, "WRONG"));
    // The cluster keeps serving TLS drivers.
    CommandResult again = c.sandbox.Run({Sandbox::BinDir() + "/tenant_driver_b", "once"}, env, 120000);
    INFO(again.Describe());
    CHECK(again.exit_code == 0);
    CHECK(Has(again.out, "answer=1"));
  }
}

TEST_CASE("lumen start refuses a partial or unsafe TLS setting with one line") {
  TlsCluster c;
  CommandResult partial = c.sandbox.Lumen({"start", "--head", "--port", "0", "--tls-cert", c.pki + "/node.pem"},
                                          c.token_env);
  CHECK(partial.exit_code == 2);
  CHECK(Has(partial.err, "missing --tls-key (LUMEN_TLS_KEY), --tls-ca (LUMEN_TLS_CA)"));
  REQUIRE(::chmod((c.pki + "/node.key").c_str(), 0644) == 0);
  CommandResult readable = c.Lumen({"start", "--head", "--port", "0"}, /*tls=*/true);
  CHECK(readable.exit_code == 2);
  CHECK(Has(readable.err, c.pki + "/node.key"));
  CHECK(c.sandbox.LumenDaemons().empty());  // Nothing was started.
}
