// The task channel over mutual TLS, on real loopback sockets: a client of
// the cluster's CA pushes and gets its replies (large frames too, from
// several threads), while a plaintext client, clients of another CA and a
// server whose certificate does not name the IP dialled are refused at the
// handshake, and the server keeps serving.
#include <catch2/catch.hpp>

#include <future>
#include <thread>
#include <vector>

#include "common/rpc/test_pki.h"
#include "worker/task_channel.h"

using namespace lumen::worker;
using lumen::rpc::PushTasksReply;
using lumen::rpc::PushTasksRequest;
using lumen::rpc::TestPki;

namespace {

TaskChannelServer::Handler Echo() {
  return [](std::shared_ptr<PushTasksRequest> request, TaskChannelServer::Reply send) {
    PushTasksReply reply;
    for (const auto& task : request->tasks()) {
      reply.add_replies()->mutable_error()->set_message(task.spec().function_name());
    }
    send(reply);
  };
}

// Pushes one task named `name`; the status and the echoed name.
std::pair<absl::Status, std::string> Push(TaskChannelClient& client, const std::string& name) {
  PushTasksRequest request;
  request.add_tasks()->mutable_spec()->set_function_name(name);
  std::promise<std::pair<absl::Status, std::string>> got;
  client.Push(request, [&](absl::Status s, PushTasksReply&& r) {
    got.set_value({s, r.replies_size() ? r.replies(0).error().message() : ""});
  });
  return got.get_future().get();
}

struct TlsServer {
  TestPki pki;
  std::shared_ptr<const lumen::rpc::TlsCredentials> node = pki.Load(pki.Node());
  TaskChannelServer server{"token", Echo(), Options()};
  int port = server.Start("127.0.0.1").value();

  TaskChannelServerOptions Options() {
    TaskChannelServerOptions options;
    options.tls = node;
    return options;
  }
};

}  // namespace

TEST_CASE("task channel over TLS: pushes and replies, also large and concurrent") {
  TlsServer s;
  auto client = TaskChannelClient::Connect("127.0.0.1", s.port, "token", kConnectTimeout, s.node);
  REQUIRE(client.ok());
  auto [status, name] = Push(**client, "f");
  REQUIRE(status.ok());
  CHECK(name == "f");

  std::string big(3 << 20, 'x');  // Many TLS records each way.
  auto [big_status, big_name] = Push(**client, big);
  REQUIRE(big_status.ok());
  CHECK(big_name == big);

  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        std::string n = std::to_string(t) + ":" + std::to_string(i);
        auto [st, echoed] = Push(**client, n);
        if (st.ok() && echoed == n) ++ok;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  CHECK(ok == 200);
}

TEST_CASE("task channel over TLS: plaintext and foreign clients are refused") {
  TlsServer s;
  // Plaintext with the right token: TCP connects, the hello goes out as
  // bytes that are no TLS handshake, and the server closes the connection.
  auto plain = TaskChannelClient::Connect("127.0.0.1", s.port, "token", kConnectTimeout, nullptr);
  REQUIRE(plain.ok());
  CHECK(absl::IsUnavailable(Push(**plain, "f").first));

  // A certificate of another CA: the handshake fails (the client does not
  // trust the server's certificate either).
  auto foreign = TaskChannelClient::Connect("127.0.0.1", s.port, "token", kConnectTimeout,
                                            s.pki.Load(s.pki.Foreign()));
  REQUIRE(!foreign.ok());
  CHECK(std::string(foreign.status().message()).find("TLS handshake failed") != std::string::npos);
  INFO(foreign.status().message());

  // A certificate of another CA that trusts ours: the server refuses it.
  auto mixed = std::make_shared<lumen::rpc::TlsCredentials>(*s.pki.Load(s.pki.Foreign()));
  mixed->ca_pem = s.node->ca_pem;
  auto refused = TaskChannelClient::Connect("127.0.0.1", s.port, "token", kConnectTimeout, mixed);
  if (refused.ok()) {  // TLS 1.3: the client learns of it at its first read.
    CHECK(absl::IsUnavailable(Push(**refused, "f").first));
  } else {
    CHECK(std::string(refused.status().message()).find("TLS handshake failed") != std::string::npos);
  }

  // The server keeps serving the cluster's clients.
  auto good = TaskChannelClient::Connect("127.0.0.1", s.port, "token", kConnectTimeout, s.node);
  REQUIRE(good.ok());
  CHECK(Push(**good, "still").second == "still");
}

TEST_CASE("task channel over TLS: the server's certificate must name the IP dialled") {
  TlsServer s;
  // The node certificate names 127.0.0.1 only; a listener on every
  // interface is reached at 127.0.0.2 too, under a name it does not hold.
  TaskChannelServerOptions options;
  options.tls = s.node;
  TaskChannelServer any_ip("token", Echo(), options);
  auto port = any_ip.Start("0.0.0.0");
  REQUIRE(port.ok());
  auto other_name = TaskChannelClient::Connect("127.0.0.2", *port, "token", kConnectTimeout, s.node);
  REQUIRE(!other_name.ok());
  CHECK(std::string(other_name.status().message()).find("certificate") != std::string::npos);
  INFO(other_name.status().message());
  auto right_name = TaskChannelClient::Connect("127.0.0.1", *port, "token", kConnectTimeout, s.node);
  REQUIRE(right_name.ok());
  CHECK(Push(**right_name, "f").second == "f");
}
