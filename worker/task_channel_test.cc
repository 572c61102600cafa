// The task channel end to end over real loopback sockets: replies match
// their pushes, a wrong token or a malformed frame closes only that
// connection, and a broken connection fails the pending pushes.
#include "worker/task_channel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <future>

using namespace lumen::worker;
using lumen::rpc::PushTasksReply;
using lumen::rpc::PushTasksRequest;

namespace {

// Echoes each task's function name back as its exec_micros-free reply.
TaskChannelServer::Handler Echo(std::atomic<int>* calls) {
  return [calls](std::shared_ptr<PushTasksRequest> request, TaskChannelServer::Reply send) {
    ++*calls;
    PushTasksReply reply;
    for (const auto& task : request->tasks()) {
      reply.add_replies()->mutable_error()->set_message(task.spec().function_name());
    }
    send(reply);
  };
}

PushTasksRequest Request(const std::string& name) {
  PushTasksRequest request;
  request.add_tasks()->mutable_spec()->set_function_name(name);
  return request;
}

std::pair<absl::Status, PushTasksReply> PushAndWait(TaskChannelClient& client, const std::string& name) {
  std::promise<std::pair<absl::Status, PushTasksReply>> got;
  client.Push(Request(name), [&](absl::Status s, PushTasksReply&& r) { got.set_value({s, std::move(r)}); });
  return got.get_future().get();
}

int RawConnect(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  return fd;
}

// True when the server closed `fd` (read returns EOF or an error).
bool ClosedByPeer(int fd) {
  char c;
  return ::recv(fd, &c, 1, 0) <= 0;
}

}  // namespace

TEST_CASE("pushes get their own replies, in any number") {
  std::atomic<int> calls{0};
  TaskChannelServer server("secret", Echo(&calls));
  int port = server.Start("127.0.0.1").value();
  auto client = TaskChannelClient::Connect("127.0.0.1", port, "secret").value();
  for (int i = 0; i < 50; ++i) {
    auto [status, reply] = PushAndWait(*client, "f" + std::to_string(i));
    REQUIRE(status.ok());
    CHECK(reply.replies(0).error().message() == "f" + std::to_string(i));
  }
  CHECK(calls == 50);
}

TEST_CASE("a wrong token or a malformed frame closes only that connection") {
  std::atomic<int> calls{0};
  TaskChannelServer server("secret", Echo(&calls));
  int port = server.Start("127.0.0.1").value();
  auto wrong = TaskChannelClient::Connect("127.0.0.1", port, "guess").value();
  auto [status, reply] = PushAndWait(*wrong, "f");
  CHECK(absl::IsUnavailable(status));
  CHECK(calls == 0);
  // Garbage after a good hello, and an oversized length prefix.
  int raw = RawConnect(port);
  char hello[13 + 6] = {6, 0, 0, 0, 1};
  std::memcpy(hello + 13, "secret", 6);
  REQUIRE(::send(raw, hello, sizeof(hello), 0) == sizeof(hello));
  char garbage[13 + 3] = {3, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, '\xff', '\xff', '\xff'};
  REQUIRE(::send(raw, garbage, sizeof(garbage), 0) == sizeof(garbage));
  CHECK(ClosedByPeer(raw));
  ::close(raw);
  int huge = RawConnect(port);
  REQUIRE(::send(huge, hello, sizeof(hello), 0) == sizeof(hello));
  char oversized[13] = {'\xff', '\xff', '\xff', '\x7f', 2};
  REQUIRE(::send(huge, oversized, sizeof(oversized), 0) == sizeof(oversized));
  CHECK(ClosedByPeer(huge));
  ::close(huge);
  // The server keeps serving good clients.
  auto good = TaskChannelClient::Connect("127.0.0.1", port, "secret").value();
  CHECK(PushAndWait(*good, "ok").first.ok());
}

TEST_CASE("a connection that breaks fails the pending pushes") {
  std::promise<void> received;
  auto server = std::make_unique<TaskChannelServer>(
      "secret", [&](std::shared_ptr<PushTasksRequest>, TaskChannelServer::Reply) {
        received.set_value();  // Never replies.
      });
  int port = server->Start("127.0.0.1").value();
  auto client = TaskChannelClient::Connect("127.0.0.1", port, "secret").value();
  std::promise<absl::Status> failed;
  client->Push(Request("f"), [&](absl::Status s, PushTasksReply&&) { failed.set_value(s); });
  received.get_future().wait();
  server.reset();  // The worker goes away.
  auto status = failed.get_future().get();
  CHECK(absl::IsUnavailable(status));
  CHECK_THAT(std::string(status.message()), Catch::Contains("closed"));
  CHECK(absl::IsUnavailable(PushAndWait(*client, "after").first));
}
