// plasma/socket_io.h
//
// Blocking socket helpers for the client side: connect to the store,
// receive its greeting with the arena descriptor, write a whole buffer,
// read one whole frame. Errors come back as absl::Status (Unavailable when
// the store is gone). Threading: the caller serializes use of a socket.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "plasma/protocol.h"

namespace lumen::plasma {

struct Greeting {
  int socket = -1;
  int arena_fd = -1;
  uint64_t arena_size = 0;
  int index_fd = -1;  // -1 when the store sent no object index.
  uint64_t index_size = 0;
  int index_slot = 0;
};

// Connects to the store at `socket_path` and reads its ConnectReply; the
// caller owns (and must close) the descriptors.
absl::StatusOr<Greeting> ConnectToStore(const std::string& socket_path);

absl::Status WriteAll(int socket, const std::string& bytes);

// Reads until `input` holds a complete frame and returns it. With
// `timeout_ms` >= 0, returns nullopt when nothing came in time.
absl::StatusOr<std::optional<Frame>> ReadFrame(int socket, FrameBuffer& input, int64_t timeout_ms = -1);

}  // namespace lumen::plasma
