// Unit tests of TLS settings (common/rpc/tls.h) and of gRPC over mutual TLS
// through a real in-process server: which settings are accepted, which files
// are refused and why, and who may connect.
#include <catch2/catch.hpp>
#include <sys/stat.h>

#include <fstream>

#include "common/rpc/client.h"
#include "common/rpc/server.h"
#include "common/rpc/test_pki.h"
#include "common/rpc/tls.h"
#include "proto/gcs.grpc.pb.h"

using namespace lumen;
using namespace lumen::rpc;

namespace {

std::string Message(const absl::Status& status) { return std::string(status.message()); }

// Answers KvGet through CallGate (the token is checked as in every daemon).
class Echo : public GcsService::CallbackService {
 public:
  explicit Echo(CallGate& gate) : gate_(gate) {}
  grpc::ServerUnaryReactor* KvGet(grpc::CallbackServerContext* ctx, const KvGetRequest* req,
                                  KvGetReply* reply) override {
    return gate_.HandleInline(ctx, "KvGet", [req, reply](Done done) {
      reply->set_value("v:" + req->key());
      done(absl::OkStatus());
    });
  }

 private:
  CallGate& gate_;
};

// A KvGet over `channel` carrying `token` (none when empty).
grpc::Status Get(const std::shared_ptr<grpc::Channel>& channel, const std::string& token) {
  auto stub = GcsService::NewStub(channel);
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata(kTokenMetadataKey, token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  KvGetRequest req;
  req.set_key("k");
  KvGetReply reply;
  return stub->KvGet(&ctx, req, &reply);
}

// An Echo server on a free loopback port, over mutual TLS with `tls`
// (plaintext when null), serving token "secret".
struct EchoServer {
  CallGate gate{nullptr, "secret"};
  Echo service{gate};
  GrpcServer server;
  std::string address;
  explicit EchoServer(std::shared_ptr<const TlsCredentials> tls)
      : server("127.0.0.1", 0, "secret", std::move(tls)) {
    server.RegisterService(&service);
    address = "127.0.0.1:" + std::to_string(server.Start().value());
  }
};

}  // namespace

TEST_CASE("TLS settings: none is off, all three are on, flags win field by field") {
  auto off = ResolveTlsConfig({}, {});
  REQUIRE(off.ok());
  CHECK(*off == nullptr);

  auto on = ResolveTlsConfig({"c.pem", "", ""}, {"env-c.pem", "k.key", "ca.pem"});
  REQUIRE(on.ok());
  REQUIRE(*on != nullptr);
  CHECK((*on)->cert_file == "c.pem");
  CHECK((*on)->key_file == "k.key");
  CHECK((*on)->ca_file == "ca.pem");
}

TEST_CASE("TLS settings: a partial setting names what is missing") {
  auto partial = ResolveTlsConfig({"c.pem", "", ""}, {});
  REQUIRE(absl::IsInvalidArgument(partial.status()));
  CHECK(Message(partial.status()) ==
        "TLS needs all three of a certificate, its key and the cluster CA: missing --tls-key "
        "(LUMEN_TLS_KEY), --tls-ca (LUMEN_TLS_CA)");
  auto no_cert = ResolveTlsConfig({}, {"", "k.key", "ca.pem"});
  REQUIRE(!no_cert.ok());
  CHECK(Message(no_cert.status()).find("missing --tls-cert (LUMEN_TLS_CERT)") != std::string::npos);
}

TEST_CASE("TLS files: a good set loads, bad files are refused naming the file") {
  TestPki pki;
  auto good = LoadTlsCredentials(pki.Node());
  REQUIRE(good.ok());
  CHECK((*good)->ca_pem.find("BEGIN CERTIFICATE") != std::string::npos);

  TlsConfig missing = pki.Node();
  missing.ca_file = pki.Path("nope.pem");
  auto not_found = LoadTlsCredentials(missing);
  CHECK(absl::IsNotFound(not_found.status()));
  CHECK(Message(not_found.status()).find(pki.Path("nope.pem")) != std::string::npos);

  ::chmod(pki.Path("node.key").c_str(), 0644);
  auto readable_key = LoadTlsCredentials(pki.Node());
  CHECK(absl::IsPermissionDenied(readable_key.status()));
  CHECK(Message(readable_key.status()).find(pki.Path("node.key")) != std::string::npos);
  ::chmod(pki.Path("node.key").c_str(), 0600);

  ::chmod(pki.Path("ca.pem").c_str(), 0664);
  auto writable_ca = LoadTlsCredentials(pki.Node());
  CHECK(absl::IsPermissionDenied(writable_ca.status()));
  CHECK(Message(writable_ca.status()) ==
        "refusing the TLS CA " + pki.Path("ca.pem") + ": writable by group or others; chmod go-w it");
  ::chmod(pki.Path("ca.pem").c_str(), 0644);

  TlsConfig mismatched = pki.Node();
  mismatched.key_file = pki.Path("foreign.key");
  auto wrong_key = LoadTlsCredentials(mismatched);
  CHECK(Message(wrong_key.status()) == "the TLS key " + pki.Path("foreign.key") +
                                           " does not belong to the certificate " +
                                           pki.Path("node.pem"));

  std::ofstream(pki.Path("garbage.pem")) << "not a certificate\n";
  ::chmod(pki.Path("garbage.pem").c_str(), 0644);
  TlsConfig garbage = pki.Node();
  garbage.cert_file = pki.Path("garbage.pem");
  auto not_pem = LoadTlsCredentials(garbage);
  CHECK(absl::IsInvalidArgument(not_pem.status()));
  CHECK(Message(not_pem.status()).find("is not a PEM certificate") != std::string::npos);
}

TEST_CASE("gRPC over mutual TLS: the cluster's clients are served, others cannot connect") {
  TestPki pki;
  auto node = pki.Load(pki.Node());
  EchoServer echo(node);
  const std::string& address = echo.address;

  CHECK(Get(MakeChannel(address, node), "secret").ok());

  // The token is still required on top of the certificate.
  grpc::Status no_token = Get(MakeChannel(address, node), "");
  CHECK(no_token.error_code() == grpc::StatusCode::UNAUTHENTICATED);

  // Plaintext with the right token: no TLS handshake, no call.
  grpc::Status plain = Get(MakeChannel(address, nullptr), "secret");
  CHECK(plain.error_code() == grpc::StatusCode::UNAVAILABLE);
  INFO("plain client: " << plain.error_message());

  // A certificate of another CA: the server refuses it, and the client
  // does not trust the server either.
  grpc::Status foreign = Get(MakeChannel(address, pki.Load(pki.Foreign())), "secret");
  CHECK(foreign.error_code() == grpc::StatusCode::UNAVAILABLE);

  // A client with a good certificate that trusts only the foreign CA.
  auto mixed = std::make_shared<TlsCredentials>(*node);
  mixed->ca_pem = pki.Load(pki.Foreign())->ca_pem;
  CHECK(Get(MakeChannel(address, mixed), "secret").error_code() == grpc::StatusCode::UNAVAILABLE);

  CHECK(Get(MakeChannel(address, node), "secret").ok());  // Still serving.
}

TEST_CASE("a plaintext server refuses a TLS client") {
  TestPki pki;
  EchoServer echo(nullptr);
  const std::string& address = echo.address;
  CHECK(Get(MakeChannel(address, pki.Load(pki.Node())), "secret").error_code() ==
        grpc::StatusCode::UNAVAILABLE);
  CHECK(Get(MakeChannel(address, nullptr), "secret").ok());
}
