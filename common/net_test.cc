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

TEST_CASE("ChooseNodeIp prefers the outbound address, then an interface's, then loopback") {
  struct Case {
    std::string outbound;
    std::vector<std::string> interfaces;
    std::string chosen;
  };
  for (const Case& c : std::vector<Case>{
           {"10.0.0.5", {"127.0.0.1", "10.0.0.5"}, "10.0.0.5"},
           {"10.0.0.5", {}, "10.0.0.5"},
           {"", {"127.0.0.1", "192.168.1.4", "10.0.0.9"}, "192.168.1.4"},  // No default route.
           {"127.0.0.1", {"127.0.0.1", "172.17.0.2"}, "172.17.0.2"},
           {"", {"127.0.0.1", "0.0.0.0"}, "127.0.0.1"},  // No network at all.
           {"", {}, "127.0.0.1"},
       }) {
    INFO(c.outbound << " -> " << c.chosen);
    CHECK(lumen::ChooseNodeIp(c.outbound, c.interfaces) == c.chosen);
  }
}

TEST_CASE("DetectNodeIp gives an address of this machine") {
  const std::string ip = lumen::DetectNodeIp();
  INFO(ip);
  CHECK(CheckPortFree(ip, 0).ok());
}

TEST_CASE("an address that is not this machine's is refused naming the machine's addresses") {
  const absl::Status status = CheckPortFree("198.51.100.7", 0, "--node-ip-address");  // TEST-NET-2.
  CHECK(absl::IsInvalidArgument(status));
  CHECK(status.message().find("198.51.100.7 is not an address of this machine (its addresses: ") == 0);
  CHECK(status.message().find("127.0.0.1") != absl::string_view::npos);
  CHECK(status.message().find("--node-ip-address") != absl::string_view::npos);
}
