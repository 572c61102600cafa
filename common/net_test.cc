#include "common/net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>

using lumen::CheckPortFree;

TEST_CASE("CheckPortFree sees a listener and foreign addresses") {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 1) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int port = ntohs(addr.sin_port);
  CHECK(absl::IsAlreadyExists(CheckPortFree("127.0.0.1", port)));
  ::close(fd);
  CHECK(CheckPortFree("127.0.0.1", port).ok());
  CHECK(absl::IsInvalidArgument(CheckPortFree("192.0.2.77", port)));  // TEST-NET: not ours.
  CHECK(absl::IsInvalidArgument(CheckPortFree("not-an-ip", port)));
}

TEST_CASE("SourceAddressTowards gives the local end of a route, or empty for what it cannot use") {
  CHECK(lumen::SourceAddressTowards("127.0.0.1:6379") == "127.0.0.1");
  // Any non-loopback route's source is one of this machine's addresses.
  const std::string out = lumen::SourceAddressTowards("192.0.2.1:6379");  // TEST-NET-1: never dialled.
  if (!out.empty()) CHECK(CheckPortFree(out, 0).ok());
  CHECK(lumen::SourceAddressTowards("head.example:6379").empty());  // A name: the caller falls back.
  CHECK(lumen::SourceAddressTowards("127.0.0.1").empty());
  CHECK(lumen::SourceAddressTowards("127.0.0.1:0").empty());
  CHECK(lumen::SourceAddressTowards("127.0.0.1:70000").empty());
}
