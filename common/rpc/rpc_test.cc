// Unit tests of the RPC layer: token checks, message size limits and fault
// injection, through a real in-process gRPC server on a free port.
// (What a refused request costs a real daemon's memory is measured in
// tests/security_grpc_test.cc.)
#include <catch2/catch.hpp>
#include <atomic>
#include <future>

#include "common/rpc/client.h"
#include "common/rpc/fault_injection.h"
#include "common/rpc/limits.h"
#include "common/rpc/server.h"
#include "proto/gcs.grpc.pb.h"

using namespace lumen;
using namespace lumen::rpc;

namespace {

class EchoKv : public lumen::rpc::GcsService::CallbackService {
 public:
  explicit EchoKv(CallGate& gate) : gate_(gate) {}
  grpc::ServerUnaryReactor* KvGet(grpc::CallbackServerContext* ctx, const KvGetRequest* req,
                                  KvGetReply* reply) override {
    return gate_.HandleInLoop(ctx, "KvGet", [req, reply, this](Done done) {
      ++calls;
      reply->set_found(true);
      reply->set_value("v:" + req->key());
      done(absl::OkStatus());
    });
  }
  int calls = 0;  // Loop thread only.

 private:
  CallGate& gate_;
};

// KvPut without CallGate: whatever reaches it is served, so only the
// server's own check stands between it and a call without the token.
class UncheckedKvPut : public lumen::rpc::GcsService::CallbackService {
 public:
  grpc::ServerUnaryReactor* KvPut(grpc::CallbackServerContext* ctx, const KvPutRequest*,
                                  KvPutReply* reply) override {
    ++calls;
    reply->set_added(true);
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  std::atomic<int> calls{0};
};

struct UncheckedFixture {
  UncheckedKvPut service;
  GrpcServer server{"127.0.0.1", 0, "secret"};
  std::string address;
  UncheckedFixture() {
    server.RegisterService(&service);
    address = "127.0.0.1:" + std::to_string(server.Start().value());
  }
};

// A KvPut of `bytes` through a channel without Lumen's limits, carrying
// `token` unless it is empty.
grpc::Status RawPut(const std::string& address, const std::string& token, size_t bytes) {
  grpc::ChannelArguments args;
  args.SetMaxSendMessageSize(-1);
  auto stub = GcsService::NewStub(
      grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  grpc::ClientContext ctx;
  if (!token.empty()) ctx.AddMetadata(kTokenMetadataKey, token);
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  KvPutRequest req;
  req.set_value(std::string(bytes, 'v'));
  KvPutReply reply;
  return stub->KvPut(&ctx, req, &reply);
}

struct Fixture {
  EventLoop loop;
  CallGate gate{&loop, "secret"};
  EchoKv service{gate};
  GrpcServer server{"127.0.0.1", 0, "secret"};
  std::string address;
  Fixture() {
    loop.StartThread();
    server.RegisterService(&service);
    address = "127.0.0.1:" + std::to_string(server.Start().value());
  }
};

absl::StatusOr<KvGetReply> Get(const std::string& address, const std::string& token) {
  RpcClient<GcsService> client(address, token);
  KvGetRequest req;
  req.set_key("k");
  return client.CallSync(&GcsService::Stub::KvGet, req, 5000);
}

}  // namespace

TEST_CASE("calls with the right token are served in the loop") {
  Fixture f;
  auto reply = Get(f.address, "secret");
  REQUIRE(reply.ok());
  CHECK(reply->value() == "v:k");
}

TEST_CASE("calls without or with a wrong token are refused and the server keeps serving") {
  Fixture f;
  auto none = Get(f.address, "");
  CHECK(absl::IsUnauthenticated(none.status()));
  CHECK(none.status().message() == "missing or wrong cluster token");
  auto wrong = Get(f.address, "secreT");
  CHECK(absl::IsUnauthenticated(wrong.status()));
  CHECK(Get(f.address, "secret").ok());
}

TEST_CASE("async calls deliver their reply on the client's loop") {
  Fixture f;
  EventLoop client_loop;
  client_loop.StartThread();
  RpcClient<GcsService> client(f.address, "secret", &client_loop);
  std::promise<std::pair<bool, std::string>> got;
  KvGetRequest req;
  req.set_key("x");
  client.Call(&GcsService::Stub::async::KvGet, req,
              std::function<void(absl::Status, KvGetReply&&)>(
                  [&](absl::Status s, KvGetReply&& r) {
                    got.set_value({s.ok() && client_loop.IsLoopThread(), r.value()});
                  }));
  auto [ok_on_loop, value] = got.get_future().get();
  // The loop may still be dropping the call's state after the callback
  // returned: stop it (as CoreWorker does) before the client goes.
  client_loop.StopAndJoin();
  CHECK(ok_on_loop);
  CHECK(value == "v:x");
}

TEST_CASE("injected faults drop requests or replies of the named method") {
  Fixture f;
  SetFaultSpecForTesting("KvGet=1:0");
  auto dropped = Get(f.address, "secret");
  CHECK(absl::IsUnavailable(dropped.status()));
  CHECK(dropped.status().message().find("request of KvGet dropped") != std::string::npos);
  SetFaultSpecForTesting("KvGet=0:1");
  auto reply_dropped = Get(f.address, "secret");
  CHECK(reply_dropped.status().message().find("reply of KvGet dropped") != std::string::npos);
  SetFaultSpecForTesting("Other=1:1");
  CHECK(Get(f.address, "secret").ok());
  SetFaultSpecForTesting("");
}

TEST_CASE("a second server on a used port is a clear error") {
  Fixture f;
  GrpcServer second("127.0.0.1", f.server.port(), "secret");
  auto st = second.Start();
  REQUIRE_FALSE(st.ok());
  CHECK(st.status().message().find("already in use") != std::string::npos);
}

TEST_CASE("the server refuses a call without the token before any handler sees it") {
  UncheckedFixture f;
  for (const std::string& token : {std::string(), std::string("secreT")}) {
    grpc::Status refused = RawPut(f.address, token, 1000);
    CHECK(refused.error_code() == grpc::StatusCode::UNAUTHENTICATED);
    CHECK(refused.error_message() == "missing or wrong cluster token");
  }
  CHECK(f.service.calls == 0);
  CHECK(RawPut(f.address, "secret", 1000).ok());
  CHECK(f.service.calls == 1);
}

TEST_CASE("a server without a cluster token does not start") {
  GrpcServer server("127.0.0.1", 0, "");
  auto port = server.Start();
  CHECK(absl::IsInvalidArgument(port.status()));
  CHECK(port.status().message().find("needs a cluster token") != std::string::npos);
}

TEST_CASE("requests up to kMaxMessageBytes are served, larger ones refused RESOURCE_EXHAUSTED") {
  UncheckedFixture f;
  const size_t headroom = 64;  // Protobuf framing of the value field.
  CHECK(RawPut(f.address, "secret", kMaxMessageBytes - headroom).ok());
  CHECK(f.service.calls == 1);
  // A client without Lumen's limits: the server refuses it.
  grpc::Status over = RawPut(f.address, "secret", kMaxMessageBytes + 1);
  CHECK(over.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Lumen's client refuses to send it at all.
  RpcClient<GcsService> client(f.address, "secret");
  KvPutRequest req;
  req.set_value(std::string(kMaxMessageBytes + 1, 'v'));
  auto reply = client.CallSync(&GcsService::Stub::KvPut, req, 30000);
  CHECK(absl::IsResourceExhausted(reply.status()));
  CHECK(f.service.calls == 1);
}
