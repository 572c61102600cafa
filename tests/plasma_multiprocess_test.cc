// Cross-process tests of the plasma store: the real lumen-plasma daemon,
// clients in forked processes. Each test's StoreProcessGroup kills the
// daemon and every forked child by process group, even on failure.
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <thread>

#include <catch2/catch.hpp>

#include "plasma/client.h"
#include "tests/plasma_harness.h"

namespace lumen::plasma {
namespace {

using testing::StoreProcessGroup;
constexpr uint64_t kMiB = 1 << 20;

// ThreadSanitizer records every read in anonymous shadow memory, several
// bytes per byte read: under it RSS cannot tell a mapping from a copy.
#if defined(__SANITIZE_THREAD__)
constexpr bool kRssShowsCopies = false;
#elif defined(__has_feature)
constexpr bool kRssShowsCopies = !__has_feature(thread_sanitizer);
#else
constexpr bool kRssShowsCopies = true;
#endif

ObjectId Id(char c) { return *ObjectId::FromBinary(std::string(ObjectId::kSize, c)); }

std::unique_ptr<PlasmaClient> MustConnect(const std::string& socket) {
  auto client = PlasmaClient::Connect(socket);
  REQUIRE(client.ok());
  return std::move(*client);
}

TEST_CASE("a reader maps the writer's bytes without copying them", "[plasma][multiprocess]") {
  StoreProcessGroup group(LUMEN_PLASMA_BIN, 512 * kMiB);
  REQUIRE(group.ready());
  const uint64_t size = 200 * kMiB;
  pid_t writer = group.Fork([&] {
    auto client = PlasmaClient::Connect(group.socket_path());
    if (!client.ok()) return 1;
    auto buffer = (*client)->Create(Id('w'), size, 4, /*pin=*/true);
    if (!buffer.ok()) return 2;
    for (uint64_t i = 0; i < size; ++i) buffer->data[i] = static_cast<uint8_t>(i * 7);
    std::memcpy(buffer->metadata, "meta", 4);
    return (*client)->Seal(Id('w')).ok() ? 0 : 3;
  });
  REQUIRE(group.Wait(writer) == 0);

  auto reader = MustConnect(group.socket_path());
  const uint64_t rss_before = testing::RssAnonBytes();
  auto got = reader->Get({Id('w')}, 5000);
  REQUIRE(got.ok());
  REQUIRE((*got)[0].has_value());
  const ObjectBuffer& object = *(*got)[0];
  REQUIRE(object.data_size == size);
  CHECK(std::memcmp(object.metadata, "meta", 4) == 0);
  uint64_t mismatches = 0;
  for (uint64_t i = 0; i < size; ++i) mismatches += object.data[i] != static_cast<uint8_t>(i * 7);
  CHECK(mismatches == 0);
  const uint64_t rss_after = testing::RssAnonBytes();
  if (kRssShowsCopies) CHECK(rss_after < rss_before + 16 * kMiB);  // Shared pages, not a copy.
  CHECK(reader->Release(Id('w')).ok());
}

TEST_CASE("a Get waits for an object sealed by another process", "[plasma][multiprocess]") {
  StoreProcessGroup group(LUMEN_PLASMA_BIN, 64 * kMiB);
  REQUIRE(group.ready());
  auto client = MustConnect(group.socket_path());
  auto none = client->Get({Id('x')}, 20);
  REQUIRE(none.ok());
  CHECK_FALSE((*none)[0].has_value());
  pid_t writer = group.Fork([&] {
    auto other = PlasmaClient::Connect(group.socket_path());
    return other.ok() && (*other)->Put(Id('x'), "late", 4).ok() ? 0 : 1;
  });
  auto got = client->Get({Id('x')}, 20000);
  REQUIRE(got.ok());
  REQUIRE((*got)[0].has_value());
  CHECK(std::string(reinterpret_cast<const char*>((*got)[0]->data), 4) == "late");
  CHECK(group.Wait(writer) == 0);
  CHECK(client->Release(Id('x')).ok());
  CHECK(client->Delete({Id('x')}).ok());
  auto deleted = client->Get({Id('x')}, 0);
  CHECK(deleted.status().code() == absl::StatusCode::kNotFound);
  CHECK(IsObjectDeleted(deleted.status()));
}

TEST_CASE("objects are evicted under pressure, oldest first, with notifications", "[plasma][multiprocess]") {
  StoreProcessGroup group(LUMEN_PLASMA_BIN, 64 * kMiB);
  REQUIRE(group.ready());
  auto subscription = PlasmaSubscription::Connect(group.socket_path());
  REQUIRE(subscription.ok());
  auto client = MustConnect(group.socket_path());
  std::vector<char> payload(10 * kMiB, 'p');
  for (char c = 'a'; c <= 'j'; ++c) REQUIRE(client->Put(Id(c), payload.data(), payload.size()).ok());
  CHECK_FALSE(*client->Contains(Id('a')));
  CHECK(*client->Contains(Id('j')));
  int sealed = 0;
  int deleted = 0;
  while (sealed + deleted < 10 + 4) {
    auto note = (*subscription)->ReadNotification(5000);
    REQUIRE(note.ok());
    REQUIRE(note->has_value());
    ((*note)->deleted ? deleted : sealed)++;
    if ((*note)->deleted) CHECK((*note)->id.data()[0] == 'a' + deleted - 1);
  }
  CHECK(sealed == 10);
  CHECK(deleted == 4);
}

TEST_CASE("a full store fails Create with the sizes", "[plasma][multiprocess]") {
  StoreProcessGroup group(LUMEN_PLASMA_BIN, 32 * kMiB);
  REQUIRE(group.ready());
  auto client = MustConnect(group.socket_path());
  std::vector<char> payload(20 * kMiB, 'p');
  REQUIRE(client->Put(Id('a'), payload.data(), payload.size(), nullptr, 0, /*pin=*/true).ok());
  auto full = client->Create(Id('b'), 20 * kMiB, 0);
  REQUIRE(full.status().code() == absl::StatusCode::kResourceExhausted);
  const std::string message(full.status().message());
  CHECK(message.find("object store full") != std::string::npos);
  CHECK(message.find("requested 20971520") != std::string::npos);
  CHECK(message.find("capacity 33554432") != std::string::npos);
  CHECK(client->Create(Id('a'), 1, 0).status().code() == absl::StatusCode::kAlreadyExists);
  CHECK(client->Seal(Id('z')).code() == absl::StatusCode::kNotFound);
  CHECK(client->Pin({Id('a')}, false).ok());
  CHECK(client->Create(Id('b'), 20 * kMiB, 0).ok());  // a is evictable now.
}

TEST_CASE("a client killed mid-create gives its memory back", "[plasma][multiprocess]") {
  StoreProcessGroup group(LUMEN_PLASMA_BIN, 64 * kMiB);
  REQUIRE(group.ready());
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  pid_t creator = group.Fork([&] {
    auto client = PlasmaClient::Connect(group.socket_path());
    if (!client.ok()) return 1;
    auto buffer = (*client)->Create(Id('k'), 60 * kMiB, 0);
    if (!buffer.ok()) return 2;
    std::memset(buffer->data, 1, kMiB);
    char ready = 'r';
    if (::write(pipe_fds[1], &ready, 1) != 1) return 3;
    ::pause();
    return 0;
  });
  char ready = 0;
  REQUIRE(::read(pipe_fds[0], &ready, 1) == 1);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  REQUIRE(::kill(creator, SIGKILL) == 0);
  CHECK(group.Wait(creator) == -1);
  auto client = MustConnect(group.socket_path());
  // The store notices the death on its own loop turn; poll until it has.
  absl::StatusOr<MutableBuffer> whole = absl::UnknownError("not tried");
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    whole = client->Create(Id('f'), client->arena_size(), 0);
    if (whole.ok()) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  REQUIRE(whole.ok());
  CHECK(client->Seal(Id('f')).ok());
}

// Blocks until the child writes its byte to `pipe_fds`.
void AwaitChild(int pipe_fds[2]) {
  char ready = 0;
  REQUIRE(::read(pipe_fds[0], &ready, 1) == 1);
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
}

// Polls (the store notices a death on its own loop turn) until `done`.
template <typename Done>
bool Eventually(Done done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return false;
}

TEST_CASE("a client killed while holding objects from the index lets them go", "[plasma][multiprocess]") {
  StoreProcessGroup group(LUMEN_PLASMA_BIN, 64 * kMiB);
  REQUIRE(group.ready());
  auto client = MustConnect(group.socket_path());
  REQUIRE(client->Put(Id('h'), "held", 4).ok());  // Small: through the index.
  int pipe_fds[2];
  REQUIRE(::pipe(pipe_fds) == 0);
  pid_t holder = group.Fork([&] {
    auto other = PlasmaClient::Connect(group.socket_path());
    if (!other.ok()) return 1;
    auto got = (*other)->Get({Id('h')}, 0);  // No round trip: the holder bit.
    if (!got.ok() || !(*got)[0].has_value() || std::memcmp((*got)[0]->data, "held", 4) != 0) return 2;
    char ready = 'r';
    if (::write(pipe_fds[1], &ready, 1) != 1) return 3;
    ::pause();
    return 0;
  });
  AwaitChild(pipe_fds);
  REQUIRE(client->Delete({Id('h')}).ok());
  CHECK(*client->Contains(Id('h')));  // Deferred: the dead-to-be still holds it.
  REQUIRE(::kill(holder, SIGKILL) == 0);
  CHECK(group.Wait(holder) == -1);
  CHECK(Eventually([&] { return !*client->Contains(Id('h')); }));
  auto deleted = client->Get({Id('h')}, 0);
  CHECK(IsObjectDeleted(deleted.status()));
}

TEST_CASE("small puts through the index: duplicates, waiters, killed putters", "[plasma][multiprocess]") {
  StoreProcessGroup group(LUMEN_PLASMA_BIN, 64 * kMiB);
  REQUIRE(group.ready());
  auto subscription = PlasmaSubscription::Connect(group.socket_path());
  REQUIRE(subscription.ok());
  auto client = MustConnect(group.socket_path());
  pid_t putter = group.Fork([&] {
    auto other = PlasmaClient::Connect(group.socket_path());
    if (!other.ok()) return 1;
    for (char c = 'a'; c <= 'e'; ++c) {
      if (!(*other)->Put(Id(c), &c, 1).ok()) return 2;
    }
    ::kill(::getpid(), SIGKILL);  // Dies right after its last put, notice or not.
    return 3;
  });
  auto got = client->Get({Id('e')}, 20000);  // Waits over the socket if not there yet.
  REQUIRE(got.ok());
  REQUIRE((*got)[0].has_value());
  CHECK((*got)[0]->data[0] == 'e');
  CHECK(group.Wait(putter) == -1);
  CHECK(client->Put(Id('c'), "x", 1).code() == absl::StatusCode::kAlreadyExists);
  for (int sealed = 0; sealed < 5;) {
    auto note = (*subscription)->ReadNotification(5000);
    REQUIRE(note.ok());
    REQUIRE(note->has_value());
    sealed += !(*note)->deleted;
  }
  CHECK(client->Release(Id('e')).ok());
  REQUIRE(client->FlushReleases().ok());
  CHECK(client->Delete({Id('a'), Id('b'), Id('c'), Id('d'), Id('e')}).ok());
  for (char c = 'a'; c <= 'e'; ++c) CHECK_FALSE(*client->Contains(Id(c)));
}

int ConnectRaw(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof(address.sun_path) - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  return fd;
}

// Sends `bytes` and returns true when the store then closes the connection.
bool StoreHangsUpAfter(const std::string& path, const std::string& bytes) {
  int fd = ConnectRaw(path);
  char sink[4096];
  ::recv(fd, sink, sizeof(sink), 0);  // The greeting (and its fd, dropped).
  ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  timeval timeout{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  ssize_t got = ::recv(fd, sink, sizeof(sink), 0);
  ::close(fd);
  return got == 0;
}

TEST_CASE("garbage and oversized messages close only their connection", "[plasma][multiprocess]") {
  StoreProcessGroup group(LUMEN_PLASMA_BIN, 16 * kMiB);
  REQUIRE(group.ready());
  auto bystander = MustConnect(group.socket_path());
  REQUIRE(bystander->Put(Id('s'), "safe", 4).ok());

  std::string oversized(8, '\0');
  const uint32_t huge = 0xFFFFFFF0u;
  const uint32_t ping = PING_REQUEST;
  std::memcpy(oversized.data(), &huge, 4);
  std::memcpy(oversized.data() + 4, &ping, 4);
  CHECK(StoreHangsUpAfter(group.socket_path(), oversized));

  std::string garbage;
  for (int i = 0; i < 4096; ++i) garbage.push_back(static_cast<char>((i * 131 + 17) % 251));
  CHECK(StoreHangsUpAfter(group.socket_path(), garbage));

  std::string bad_body(8, '\0');
  const uint32_t body_size = 6;
  const uint32_t create = CREATE_REQUEST;
  std::memcpy(bad_body.data(), &body_size, 4);
  std::memcpy(bad_body.data() + 4, &create, 4);
  bad_body += "\xff\xff\xff\xff\xff\xff";
  CHECK(StoreHangsUpAfter(group.socket_path(), bad_body));

  CHECK(bystander->Ping().ok());
  auto got = bystander->Get({Id('s')}, 0);
  REQUIRE(got.ok());
  CHECK((*got)[0].has_value());
  CHECK(MustConnect(group.socket_path())->Ping().ok());
}

TEST_CASE("the daemon guards its socket directory and cleans up on SIGTERM", "[plasma][multiprocess]") {
  char dir_template[] = "/tmp/lumen-plasma-open-XXXXXX";
  const std::string open_dir = ::mkdtemp(dir_template);
  ::chmod(open_dir.c_str(), 0755);
  StoreProcessGroup refused(LUMEN_PLASMA_BIN, 16 * kMiB, {"--socket", open_dir + "/plasma.sock"});
  CHECK_FALSE(refused.ready());
  std::filesystem::remove_all(open_dir);

  StoreProcessGroup group(LUMEN_PLASMA_BIN, 16 * kMiB);
  REQUIRE(group.ready());
  REQUIRE(std::filesystem::exists(group.socket_path()));
  REQUIRE(::kill(group.store_pid(), SIGTERM) == 0);
  int status = 0;
  REQUIRE(::waitpid(group.store_pid(), &status, 0) == group.store_pid());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK_FALSE(std::filesystem::exists(group.socket_path()));
}

}  // namespace
}  // namespace lumen::plasma
