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

}  // namespace lumen
