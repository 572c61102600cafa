// ObjectDataServer's checks, on loopback without a store: a wrong token or
// a malformed header closes the connection without an answer, and the
// server keeps answering good requests (here: "no store reachable").

#include "raylet/object_data.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <string>

namespace lumen::raylet {
namespace {

// Sends `bytes`, ends the sending side, and reads until the server closes;
// what it answered.
std::string Exchange(int port, const std::string& bytes) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  (void)::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
  ::shutdown(fd, SHUT_WR);
  std::string answer;
  char buf[256];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof(buf), 0)) > 0;) answer.append(buf, n);
  ::close(fd);
  return answer;
}

TEST_CASE("ObjectDataServer: a wrong token or a malformed header is closed; good requests are answered") {
  ObjectDataServer server({.ip = "127.0.0.1", .token = "secret", .plasma_socket = "/nonexistent/plasma.sock"});
  REQUIRE(server.Start().ok());
  REQUIRE(server.port() > 0);
  const ObjectId id = ObjectId::FromRandom();
  uint8_t dest[16];

  absl::Status wrong = ReadObjectRange("127.0.0.1", server.port(), "guess", id, "", 0, sizeof(dest), dest);
  CHECK(absl::IsUnavailable(wrong));
  CHECK(std::string(wrong.message()).find("closed early") != std::string::npos);
  CHECK(Exchange(server.port(), std::string(sizeof(DataRequestHeader), 'x')).empty());
  CHECK(Exchange(server.port(), "LMD1").empty());  // Short, then closed by the client.

  absl::Status good = ReadObjectRange("127.0.0.1", server.port(), "secret", id, "", 0, sizeof(dest), dest);
  CHECK(absl::IsUnavailable(good));
  CHECK(std::string(good.message()).find("object store is not reachable") != std::string::npos);
  CHECK(server.CopiesOf(id).empty());
}

TEST_CASE("ObjectDataServer: an address that is not IPv4 is refused") {
  ObjectDataServer server({.ip = "not-an-ip", .plasma_socket = "/nonexistent"});
  CHECK(absl::IsInvalidArgument(server.Start()));
}

}  // namespace
}  // namespace lumen::raylet
