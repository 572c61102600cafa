#include "plasma/protocol.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace lumen::plasma {

void AppendFrame(MessageType type, const google::protobuf::MessageLite& body, std::string* out) {
  const size_t body_size = body.ByteSizeLong();
  const size_t start = out->size();
  out->resize(start + kFrameHeaderSize + body_size);
  char* header = out->data() + start;
  const uint32_t size32 = static_cast<uint32_t>(body_size);
  const uint32_t type32 = static_cast<uint32_t>(type);
  std::memcpy(header, &size32, 4);
  std::memcpy(header + 4, &type32, 4);
  body.SerializeWithCachedSizesToArray(reinterpret_cast<uint8_t*>(header + kFrameHeaderSize));
}

char* FrameBuffer::WritableSpace(size_t min_bytes, size_t* available) {
  if (begin_ == end_) {
    begin_ = end_ = 0;
    if (data_.size() > (1u << 20) && min_bytes <= (1u << 20)) data_.assign(1u << 16, 0);  // Give back.
  }
  if (data_.size() - end_ < min_bytes) {
    // Move the unread bytes to the front, then grow if still short.
    if (begin_ > 0) {
      std::memmove(data_.data(), data_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = 0;
    }
    if (data_.size() - end_ < min_bytes) data_.resize(end_ + min_bytes);
  }
  *available = data_.size() - end_;
  return data_.data() + end_;
}

absl::StatusOr<std::optional<Frame>> FrameBuffer::Next() {
  if (end_ - begin_ < kFrameHeaderSize) return std::nullopt;
  uint32_t body_size;
  uint32_t type;
  std::memcpy(&body_size, data_.data() + begin_, 4);
  std::memcpy(&type, data_.data() + begin_ + 4, 4);
  if (body_size > kMaxBodySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("oversized message: ", body_size, " bytes, limit ", kMaxBodySize));
  }
  if (type == MESSAGE_TYPE_UNSPECIFIED || !MessageType_IsValid(static_cast<int>(type))) {
    return absl::InvalidArgumentError(absl::StrCat("unknown message type ", type));
  }
  if (end_ - begin_ < kFrameHeaderSize + body_size) return std::nullopt;
  Frame frame{static_cast<MessageType>(type),
              std::string_view(data_.data() + begin_ + kFrameHeaderSize, body_size)};
  begin_ += kFrameHeaderSize + body_size;
  return frame;
}

bool ParseBody(const Frame& frame, google::protobuf::MessageLite* message) {
  return message->ParseFromArray(frame.body.data(), static_cast<int>(frame.body.size()));
}

}  // namespace lumen::plasma
