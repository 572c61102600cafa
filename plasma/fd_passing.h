// plasma/fd_passing.h
//
// Sending file descriptors along with a few bytes over a Unix socket
// (SCM_RIGHTS). The store passes the arena's descriptor and the object
// index's to every client once, at connect. Both calls block; errors come
// back as absl::Status.
#pragma once

#include <cstddef>
#include <vector>

#include "absl/status/statusor.h"

namespace lumen::plasma {

inline constexpr size_t kMaxPassedFds = 4;

// Sends `size` bytes of `data` with `fds` (at most kMaxPassedFds) attached.
absl::Status SendWithFds(int socket, const void* data, size_t size, const std::vector<int>& fds);

// Reads up to `capacity` bytes into `buffer`, returns how many; `*fds` gets
// the attached descriptors (none when none came).
absl::StatusOr<size_t> ReceiveWithFds(int socket, void* buffer, size_t capacity, std::vector<int>* fds);

}  // namespace lumen::plasma
