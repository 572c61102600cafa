// plasma/fd_passing.h
//
// Sending one file descriptor along with a few bytes over a Unix socket
// (SCM_RIGHTS). The store passes the arena's descriptor to every client
// once, at connect. Both calls block; errors come back as absl::Status.
#pragma once

#include <cstddef>

#include "absl/status/statusor.h"

namespace lumen::plasma {

// Sends `size` bytes of `data` with `fd` attached.
absl::Status SendWithFd(int socket, const void* data, size_t size, int fd);

// Reads up to `capacity` bytes into `buffer`, returns how many; `*fd` gets
// the attached descriptor or -1 when none came.
absl::StatusOr<size_t> ReceiveWithFd(int socket, void* buffer, size_t capacity, int* fd);

}  // namespace lumen::plasma
