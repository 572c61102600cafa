#include "common/net.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace lumen {

namespace {

bool IsLoopbackOrAny(const std::string& ip) {
  return ip.empty() || ip.rfind("127.", 0) == 0 || ip == "0.0.0.0";
}

// The IPv4 addresses of the interfaces that are up, in the kernel's order.
std::vector<std::string> InterfaceAddresses() {
  std::vector<std::string> addresses;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return addresses;
  for (const ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr || entry->ifa_addr->sa_family != AF_INET) continue;
    if ((entry->ifa_flags & IFF_UP) == 0) continue;
    char text[INET_ADDRSTRLEN] = "";
    const auto* in = reinterpret_cast<const sockaddr_in*>(entry->ifa_addr);
    if (::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text)) != nullptr) addresses.push_back(text);
  }
  ::freeifaddrs(list);
  return addresses;
}

}  // namespace

absl::Status CheckPortFree(const std::string& host, int port, std::string_view flag) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::InternalError(std::string("socket: ") + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));  // Ignore TIME_WAIT.
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (host.empty() || host == "0.0.0.0") {
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
  } else if (::inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    ::close(fd);
    return absl::InvalidArgumentError("\"" + host + "\" is not an IPv4 address");
  }
  const int result = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int error = errno;
  ::close(fd);
  if (result == 0) return absl::OkStatus();
  const std::string where = "port " + std::to_string(port) + " on " + host;
  if (error == EADDRINUSE) {
    return absl::AlreadyExistsError(
        where + " is already in use (another Lumen node or another program); stop it with "
                "`lumen stop` or choose another " + std::string(flag));
  }
  if (error == EADDRNOTAVAIL) {
    std::string ours;
    for (const std::string& ip : InterfaceAddresses()) ours += (ours.empty() ? "" : ", ") + ip;
    return absl::InvalidArgumentError(host + " is not an address of this machine (its addresses: " +
                                      ours + "); check --node-ip-address and $LUMEN_NODE_IP");
  }
  return absl::PermissionDeniedError("cannot bind " + where + ": " + std::strerror(error));
}

std::string SourceAddressTowards(const std::string& host_port) {
  const size_t colon = host_port.rfind(':');
  if (colon == std::string::npos) return "";
  const int port = std::atoi(host_port.c_str() + colon + 1);
  sockaddr_in peer{};
  peer.sin_family = AF_INET;
  peer.sin_port = htons(static_cast<uint16_t>(port));
  if (port <= 0 || port > 65535 || ::inet_pton(AF_INET, host_port.substr(0, colon).c_str(), &peer.sin_addr) != 1) {
    return "";
  }
  const int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return "";
  sockaddr_in self{};
  socklen_t len = sizeof(self);
  char text[INET_ADDRSTRLEN] = "";
  if (::connect(fd, reinterpret_cast<sockaddr*>(&peer), sizeof(peer)) == 0 &&
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&self), &len) == 0) {
    ::inet_ntop(AF_INET, &self.sin_addr, text, sizeof(text));
  }
  ::close(fd);
  return text;
}


std::string ChooseNodeIp(const std::string& outbound, const std::vector<std::string>& interfaces) {
  if (!IsLoopbackOrAny(outbound)) return outbound;
  for (const std::string& ip : interfaces) {
    if (!IsLoopbackOrAny(ip)) return ip;
  }
  return "127.0.0.1";
}

std::string DetectNodeIp() {
  // Ray's probe address; a connected UDP socket only looks up the route.
  return ChooseNodeIp(SourceAddressTowards("8.8.8.8:80"), InterfaceAddresses());
}

}  // namespace lumen
