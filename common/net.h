// common/net.h
//
// Small socket helpers shared by the daemons and the launcher.
// Thread-safe; no state.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace lumen {

// OK when nothing listens on host:port (checked with a bind of our own,
// without SO_REUSEPORT, so a gRPC server holding the port is seen too).
// AlreadyExists when the port is taken (its message tells to choose another
// `flag`); InvalidArgument when `host` is not an address of this machine.
absl::Status CheckPortFree(const std::string& host, int port, std::string_view flag = "--port");

// The address this machine's kernel uses as the source of a connection to
// `host_port` ("a.b.c.d:port"; a connected UDP socket sends nothing): how a
// node or driver finds the address the rest of the cluster reaches it at.
// "" when unknown (a host name, no route).
std::string SourceAddressTowards(const std::string& host_port);

// The address a head advertises when it is told none (Ray's
// get_node_ip_address): ChooseNodeIp of the source address towards a public
// address (SourceAddressTowards; nothing is sent) and the IPv4 addresses of
// this machine's interfaces that are up.
std::string DetectNodeIp();
// `outbound` unless it is empty or loopback; else the first of `interfaces`
// that is neither loopback nor 0.0.0.0; else 127.0.0.1 (a machine without a
// network). Pure.
std::string ChooseNodeIp(const std::string& outbound, const std::vector<std::string>& interfaces);

}  // namespace lumen
