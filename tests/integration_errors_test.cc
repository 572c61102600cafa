// Bad input and security at the cluster's edge: every mistake gets a clear
// one-line error and a non-zero exit, and the running cluster keeps serving.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "common/rpc/client.h"
#include "proto/gcs.grpc.pb.h"
#include "tests/harness.h"

namespace lumen::testing {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The first line of stderr, and the number of lines in it.
int LineCount(const std::string& text) {
  int lines = 0;
  for (char c : text) lines += c == '\n';
  return lines;
}

// Listens on a free loopback port for the lifetime of the object.
class BusyPort {
 public:
  BusyPort() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
    ::listen(fd_, 1);
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~BusyPort() { ::close(fd_); }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
};

void CheckStillServing(Sandbox& sandbox, pid_t gcs) {
  CommandResult status = sandbox.Lumen({"status"});
  INFO(status.Describe());
  CHECK(status.exit_code == 0);
  CHECK(Has(status.out, "Nodes: 1 alive, 0 dead"));
  CHECK(IsRunning(gcs));
}

TEST_CASE("bad input is refused clearly and the cluster keeps serving", "[integration]") {
  Sandbox sandbox;
  const std::string port = std::to_string(Sandbox::FreePort());
  const std::string address = "127.0.0.1:" + port;
  CommandResult head = sandbox.Lumen({"start", "--head", "--port", port, "--num-cpus", "2",
                                      "--object-store-memory", "33554432"});
  INFO(head.Describe());
  REQUIRE(head.exit_code == 0);
  const pid_t gcs = sandbox.SessionPids(Sandbox::SessionDirFromOutput(head.out))["gcs"];
  REQUIRE(gcs > 0);

  {  // malformed resources JSON
    CommandResult r = sandbox.Lumen({"start", "--address", address, "--resources", "{bad"});
    INFO(r.Describe());
    CHECK(r.exit_code != 0);
    CHECK(Has(r.err, "not valid JSON"));
    CHECK(LineCount(r.err) == 1);
  }
  {  // unknown flag
    CommandResult r = sandbox.Lumen({"start", "--head", "--no-such-flag"});
    INFO(r.Describe());
    CHECK(r.exit_code == 2);
    CHECK(Has(r.err, "unknown flag --no-such-flag"));
    // The error first, then the synopsis and where the flags are told; not
    // the whole flag table.
    CHECK(r.err.rfind("lumen: unknown flag --no-such-flag", 0) == 0);
    CHECK(Has(r.err, "usage: lumen start"));
    CHECK(Has(r.err, "Run `lumen start --help` for its flags."));
    CHECK(LineCount(r.err) <= 4);
  }
  {  // port in use by another program
    BusyPort busy;
    CommandResult r = sandbox.Lumen({"start", "--head", "--port", std::to_string(busy.port())});
    INFO(r.Describe());
    CHECK(r.exit_code != 0);
    CHECK(Has(r.err, "already in use"));
    CHECK(LineCount(r.err) == 1);
  }
  {  // second head on the same port
    CommandResult r = sandbox.Lumen({"start", "--head", "--port", port});
    INFO(r.Describe());
    CHECK(r.exit_code != 0);
    CHECK(Has(r.err, "already in use"));
    CHECK(LineCount(r.err) == 1);
  }
  {  // worker node pointed at nothing
    const std::string nowhere = "127.0.0.1:" + std::to_string(Sandbox::FreePort());
    CommandResult r = sandbox.Lumen({"start", "--address", nowhere}, {}, 30000);
    INFO(r.Describe());
    CHECK(r.exit_code > 0);
    CHECK(Has(r.err, "cannot reach the GCS at " + nowhere));
    CHECK(LineCount(r.err) == 1);
  }
  {  // status of a cluster that is not there
    const std::string nowhere = "127.0.0.1:" + std::to_string(Sandbox::FreePort());
    CommandResult r = sandbox.Lumen({"status", "--address", nowhere}, {}, 30000);
    CHECK(r.exit_code != 0);
    CHECK(Has(r.err, "cannot reach the GCS"));
  }
  CheckStillServing(sandbox, gcs);
}

TEST_CASE("calls without or with a wrong token are refused", "[integration]") {
  Sandbox sandbox;
  const std::string port = std::to_string(Sandbox::FreePort());
  const std::string address = "127.0.0.1:" + port;
  CommandResult head = sandbox.Lumen({"start", "--head", "--port", port, "--num-cpus", "1",
                                      "--object-store-memory", "33554432"});
  INFO(head.Describe());
  REQUIRE(head.exit_code == 0);
  const pid_t gcs = sandbox.SessionPids(Sandbox::SessionDirFromOutput(head.out))["gcs"];

  {  // wrong token from the CLI
    CommandResult r = sandbox.Lumen({"status"}, {{"LUMEN_TOKEN", "wrong"}});
    INFO(r.Describe());
    CHECK(r.exit_code != 0);
    CHECK(Has(r.err, "missing or wrong cluster token"));
    CHECK(LineCount(r.err) == 1);
  }
  {  // no token at all on the CLI's side
    const std::string empty_home = sandbox.root() + "/empty-home";
    CommandResult r = sandbox.Lumen({"status", "--address", address}, {{"HOME", empty_home}});
    INFO(r.Describe());
    CHECK(r.exit_code != 0);
    CHECK(Has(r.err, "no cluster token"));
  }
  {  // a raw gRPC call without a token
    rpc::RpcClient<rpc::GcsService> client(address, "");
    auto reply = client.CallSync(&rpc::GcsService::Stub::GetAllNodes, rpc::GetAllNodesRequest(),
                                 10000);
    REQUIRE_FALSE(reply.ok());
    CHECK(absl::IsUnauthenticated(reply.status()));
    CHECK(Has(std::string(reply.status().message()), "missing or wrong cluster token"));
  }
  {  // a node joining with a wrong token
    CommandResult r = sandbox.Lumen({"start", "--address", address}, {{"LUMEN_TOKEN", "wrong"}});
    INFO(r.Describe());
    CHECK(r.exit_code != 0);
    CHECK(Has(r.err, "missing or wrong cluster token"));
  }
  CheckStillServing(sandbox, gcs);
}

}  // namespace
}  // namespace lumen::testing
