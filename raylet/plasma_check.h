// raylet/plasma_check.h
//
// The raylet's only use of the plasma store so far: at startup, check that
// the store named by --plasma-socket answers (connect + ping). Built against
// lumen_plasma_client when that library exists, else it only checks that
// the socket file is there. Failure is reported, never fatal: the store may
// be started after the raylet.
#pragma once

#include <string>

#include "absl/status/status.h"

namespace lumen::raylet {

absl::Status CheckPlasmaStore(const std::string& socket_path);

}  // namespace lumen::raylet
