// The task channel end to end over real loopback sockets: replies match
// their pushes, a wrong token or a malformed frame closes only that
// connection, and a broken connection fails the pending pushes. Before a
// connection authenticates, the server allocates nothing it announces,
// holds it no longer than the hello deadline, gives it no thread, and
// keeps at most max_unauthenticated such connections.
#include "worker/task_channel.h"

#include "worker/log_forwarder.h"
#include "common/log_rate_limiter.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <condition_variable>
#include <fstream>
#include <future>
#include <thread>
#include <vector>

using namespace lumen::worker;
using lumen::LogRateLimiter;
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

// True when the server closes `fd` before `give_up_ms` (a bound so that a
// server that never closes fails the test rather than hanging it; the
// assertions never depend on how fast the close comes).
bool ClosedWithin(int fd, int give_up_ms) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, give_up_ms) != 1) return false;
  return ClosedByPeer(fd);
}

// True while the server has not closed `fd` (nothing to read, no EOF).
bool StillOpen(int fd) {
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT) < 0 && errno == EAGAIN;
}

// A frame header: u32 length | u8 kind | u64 id (all zero).
std::string Header(uint32_t len, uint8_t kind) {
  std::string header(13, '\0');
  std::memcpy(header.data(), &len, 4);
  header[4] = static_cast<char>(kind);
  return header;
}

void SendAll(int fd, const std::string& bytes) {
  REQUIRE(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(bytes.size()));
}

long RssKiB() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  FAIL("no VmRSS in /proc/self/status");
  return 0;
}

int ThreadCount() {
  DIR* dir = ::opendir("/proc/self/task");
  int n = 0;
  while (dirent* entry = ::readdir(dir)) n += entry->d_name[0] != '.';
  ::closedir(dir);
  return n;
}

constexpr int kGiveUpMs = 20000;

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

TEST_CASE("a header announcing 500 MiB before the token allocates nothing and closes") {
  std::atomic<int> calls{0};
  TaskChannelServer server("secret", Echo(&calls));
  int port = server.Start("127.0.0.1").value();
  long before = RssKiB();
  for (uint8_t kind : {1 /*hello*/, 2 /*push*/}) {
    int fd = RawConnect(port);
    SendAll(fd, Header(500u << 20, kind));
    CHECK(ClosedWithin(fd, kGiveUpMs));
    ::close(fd);
  }
  long grown_kib = RssKiB() - before;
  INFO("RSS grew by " << grown_kib << " KiB");
  CHECK(grown_kib < 16 * 1024);
  CHECK(calls == 0);
  auto good = TaskChannelClient::Connect("127.0.0.1", port, "secret").value();
  CHECK(PushAndWait(*good, "ok").first.ok());
}

TEST_CASE("a connection that does not authenticate in time is closed; one that did is kept") {
  std::atomic<int> calls{0};
  TaskChannelServer server("secret", Echo(&calls),
                           TaskChannelServerOptions{.hello_deadline = std::chrono::milliseconds(200)});
  int port = server.Start("127.0.0.1").value();
  auto good = TaskChannelClient::Connect("127.0.0.1", port, "secret").value();
  REQUIRE(PushAndWait(*good, "first").first.ok());
  int silent = RawConnect(port);
  int partial = RawConnect(port);
  SendAll(partial, Header(6, 1).substr(0, 5));  // Half a hello header ...
  int headless = RawConnect(port);
  SendAll(headless, Header(6, 1) + "sec");      // ... and half a token.
  CHECK(ClosedWithin(silent, kGiveUpMs));
  CHECK(ClosedWithin(partial, kGiveUpMs));
  CHECK(ClosedWithin(headless, kGiveUpMs));
  for (int fd : {silent, partial, headless}) ::close(fd);
  // The authenticated connection idled past the deadline and still works.
  CHECK(PushAndWait(*good, "second").first.ok());
  CHECK(calls == 2);
}

TEST_CASE("200 idle unauthenticated connections get no threads; those over the cap are closed") {
  std::atomic<int> calls{0};
  TaskChannelServerOptions options;
  options.hello_deadline = std::chrono::seconds(120);  // Only the cap closes connections here.
  options.max_unauthenticated = 64;
  TaskChannelServer server("secret", Echo(&calls), options);
  int port = server.Start("127.0.0.1").value();
  int threads_before = ThreadCount();
  std::vector<pollfd> fds;
  for (int i = 0; i < 200; ++i) fds.push_back(pollfd{RawConnect(port), POLLIN, 0});
  // Wait until the 136 over the cap are closed (or give up).
  int closed = 0;
  std::vector<bool> seen(fds.size(), false);
  while (closed < 136) {
    for (auto& p : fds) p.revents = 0;
    if (::poll(fds.data(), fds.size(), kGiveUpMs) <= 0) break;
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].revents != 0 && !seen[i]) {
        seen[i] = true;
        closed += ClosedByPeer(fds[i].fd);
        fds[i].events = 0;  // Do not report it again.
      }
    }
  }
  int threads_after = ThreadCount();
  INFO("threads before " << threads_before << ", after " << threads_after);
  CHECK(threads_after <= threads_before + 2);
  CHECK(closed == 136);
  int open = 0;
  for (size_t i = 0; i < fds.size(); ++i) open += !seen[i] && StillOpen(fds[i].fd);
  CHECK(open == 64);
  for (auto& p : fds) ::close(p.fd);
}

TEST_CASE("a wrong token of the right length is refused; good clients are still served") {
  std::atomic<int> calls{0};
  TaskChannelServer server("secret", Echo(&calls));
  int port = server.Start("127.0.0.1").value();
  int fd = RawConnect(port);
  SendAll(fd, Header(6, 1) + "secreT");
  CHECK(ClosedWithin(fd, kGiveUpMs));
  ::close(fd);
  CHECK(calls == 0);
  auto good = TaskChannelClient::Connect("127.0.0.1", port, "secret").value();
  CHECK(PushAndWait(*good, "ok").first.ok());
}

TEST_CASE("replies sent from other threads, in any order, reach their pushes") {
  std::mutex mu;
  std::condition_variable arrived;
  std::vector<std::pair<std::string, TaskChannelServer::Reply>> held;
  TaskChannelServer server("secret", [&](std::shared_ptr<PushTasksRequest> request, TaskChannelServer::Reply send) {
    std::lock_guard<std::mutex> lock(mu);
    held.emplace_back(request->tasks(0).spec().function_name(), std::move(send));
    arrived.notify_all();
  });
  int port = server.Start("127.0.0.1").value();
  auto client = TaskChannelClient::Connect("127.0.0.1", port, "secret").value();
  constexpr int kPushes = 500;
  std::vector<std::promise<std::string>> got(kPushes);
  for (int i = 0; i < kPushes; ++i) {
    client->Push(Request("f" + std::to_string(i)), [&got, i](absl::Status s, PushTasksReply&& r) {
      got[i].set_value(s.ok() ? r.replies(0).error().message() : std::string(s.message()));
    });
  }
  // Reply once all arrived, newest first, from two threads at once.
  {
    std::unique_lock<std::mutex> lock(mu);
    arrived.wait(lock, [&] { return held.size() == kPushes; });
  }
  auto reply_half = [&](int parity) {
    for (int i = kPushes - 1; i >= 0; --i) {
      if (i % 2 != parity) continue;
      PushTasksReply reply;
      reply.add_replies()->mutable_error()->set_message(held[i].first);
      held[i].second(reply);
    }
  };
  std::thread even(reply_half, 0), odd(reply_half, 1);
  even.join();
  odd.join();
  int matched = 0;
  for (int i = 0; i < kPushes; ++i) matched += got[i].get_future().get() == "f" + std::to_string(i);
  CHECK(matched == kPushes);
}

TEST_CASE("a reply sent after the server is gone is dropped") {
  TaskChannelServer::Reply kept;
  std::promise<void> received;
  auto server = std::make_unique<TaskChannelServer>(
      "secret", [&](std::shared_ptr<PushTasksRequest>, TaskChannelServer::Reply send) {
        kept = std::move(send);
        received.set_value();
      });
  int port = server->Start("127.0.0.1").value();
  auto client = TaskChannelClient::Connect("127.0.0.1", port, "secret").value();
  std::promise<absl::Status> failed;
  client->Push(Request("f"), [&](absl::Status s, PushTasksReply&&) { failed.set_value(s); });
  received.get_future().wait();
  server.reset();
  kept(PushTasksReply());  // Nowhere to go; must not touch the server.
  CHECK(absl::IsUnavailable(failed.get_future().get()));
}

TEST_CASE("connecting gives up after the timeout when nobody answers") {
  // A listener that never accepts, its one-slot queue full: later SYNs go
  // unanswered, as from a host that vanished.
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  socklen_t len = sizeof(addr);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(listener, 0) == 0);
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  int port = ntohs(addr.sin_port);
  std::vector<int> fillers;
  for (int i = 0; i < 2; ++i) {
    fillers.push_back(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0));
    ::connect(fillers.back(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  }
  auto client = TaskChannelClient::Connect("127.0.0.1", port, "secret", std::chrono::milliseconds(300));
  REQUIRE_FALSE(client.ok());
  CHECK(absl::IsDeadlineExceeded(client.status()));
  CHECK_THAT(std::string(client.status().message()), Catch::Contains("cannot connect"));
  for (int fd : fillers) ::close(fd);
  ::close(listener);
}

TEST_CASE("bad input to Connect gets a clear error") {
  auto bad_ip = TaskChannelClient::Connect("not-an-ip", 1, "secret");
  CHECK(absl::IsInvalidArgument(bad_ip.status()));
  auto long_token = TaskChannelClient::Connect("127.0.0.1", 1, std::string(kMaxHelloBytes + 1, 'x'));
  CHECK(absl::IsInvalidArgument(long_token.status()));
  TaskChannelServer server("secret", Echo(nullptr));
  CHECK(absl::IsInvalidArgument(server.Start("nowhere").status()));
}

TEST_CASE("refusals are logged at most once per period per kind, with the count suppressed") {
  using std::chrono::seconds;
  LogRateLimiter limiter(seconds(10));
  LogRateLimiter::Clock::time_point t0{};
  struct Row {
    int kind;
    seconds at;
    std::optional<uint64_t> expected;
  };
  const Row rows[] = {
      {1, seconds(0), 0},              // First of its kind: written.
      {1, seconds(1), std::nullopt},   // Within the period: suppressed.
      {2, seconds(2), 0},              // Another kind has its own period.
      {1, seconds(9), std::nullopt},
      {1, seconds(10), 2},             // Period over: written, 2 suppressed.
      {1, seconds(11), std::nullopt},
      {2, seconds(30), 0},
      {1, seconds(100), 1},
  };
  for (const Row& row : rows) {
    INFO("kind " << row.kind << " at " << row.at.count() << " s");
    CHECK(limiter.Admit(row.kind, t0 + row.at) == row.expected);
  }
}

TEST_CASE("a log line with the local-only marker is kept from the driver") {
  std::string line = std::string("W1201 task_channel.cc:1] ") + kLocalOnlyLogMarker + "refused";
  CHECK(TakeLocalOnlyMarker(&line));
  CHECK(line == "W1201 task_channel.cc:1] refused");
  std::string plain = "(f pid=1) hello";
  CHECK_FALSE(TakeLocalOnlyMarker(&plain));
  CHECK(plain == "(f pid=1) hello");
}
