// plasma/protocol.h
//
// Framing of the plasma protocol, shared by the store and its clients. A
// frame is an 8-byte header (uint32 body size, uint32 MessageType, host byte
// order: both ends are on one machine) and then a protobuf body of at most
// kMaxBodySize bytes. FrameBuffer accumulates bytes read from a socket and
// cuts them into frames; a header that is oversized or names an unknown type
// is an error, after which the connection must be closed.
// Threading: plain values; one owner at a time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "google/protobuf/message_lite.h"
#include "proto/plasma.pb.h"

namespace lumen::plasma {

inline constexpr size_t kFrameHeaderSize = 8;
inline constexpr uint32_t kMaxBodySize = 64u << 20;  // 64 MiB

// Appends one frame holding `body` to `out`.
void AppendFrame(MessageType type, const google::protobuf::MessageLite& body, std::string* out);

struct Frame {
  MessageType type;
  std::string_view body;  // Valid until the FrameBuffer is written to again.
};

class FrameBuffer {
 public:
  // Space for the next read of at least `min_bytes`; call Commit with what
  // was read into it.
  char* WritableSpace(size_t min_bytes, size_t* available);
  void Commit(size_t bytes) { end_ += bytes; }

  // The next complete frame, nullopt when more bytes are needed, or an
  // error for a header that cannot be valid.
  absl::StatusOr<std::optional<Frame>> Next();
  bool empty() const { return begin_ == end_; }

 private:
  std::vector<char> data_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// Parses `frame.body` into `message`; false when malformed.
bool ParseBody(const Frame& frame, google::protobuf::MessageLite* message);

}  // namespace lumen::plasma
