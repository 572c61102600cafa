// Unit tests of the RPC layer: token checks and fault injection, through a
// real in-process gRPC server on a free port.
#include <catch2/catch.hpp>
#include <future>

#include "common/rpc/client.h"
#include "common/rpc/fault_injection.h"
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

struct Fixture {
  EventLoop loop;
  CallGate gate{&loop, "secret"};
  EchoKv service{gate};
  GrpcServer server{"127.0.0.1", 0};
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
  GrpcServer second("127.0.0.1", f.server.port());
  auto st = second.Start();
  REQUIRE_FALSE(st.ok());
  CHECK(st.status().message().find("already in use") != std::string::npos);
}
