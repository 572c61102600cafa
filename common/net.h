// common/net.h
//
// Small socket helpers shared by the daemons and the launcher.
// Thread-safe; no state.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace lumen {

// OK when nothing listens on host:port (checked with a bind of our own,
// without SO_REUSEPORT, so a gRPC server holding the port is seen too).
// AlreadyExists when the port is taken; InvalidArgument when `host` is not
// an address of this machine.
absl::Status CheckPortFree(const std::string& host, int port);

// The address this machine's kernel uses as the source of a connection to
// `host_port` ("a.b.c.d:port"; a connected UDP socket sends nothing): how a
// node or driver finds the address the rest of the cluster reaches it at.
// "" when unknown (a host name, no route).
std::string SourceAddressTowards(const std::string& host_port);

}  // namespace lumen
