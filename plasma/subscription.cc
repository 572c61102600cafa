// PlasmaSubscription (declared in plasma/client.h).
#include <unistd.h>

#include "plasma/client.h"
#include "plasma/socket_io.h"

namespace lumen::plasma {

absl::StatusOr<std::unique_ptr<PlasmaSubscription>> PlasmaSubscription::Connect(const std::string& socket_path) {
  absl::StatusOr<Greeting> greeting = ConnectToStore(socket_path);
  if (!greeting.ok()) return greeting.status();
  ::close(greeting->arena_fd);  // A subscriber never maps the arena or the index.
  if (greeting->index_fd >= 0) ::close(greeting->index_fd);
  std::unique_ptr<PlasmaSubscription> subscription(new PlasmaSubscription(greeting->socket));
  std::string frame;
  AppendFrame(SUBSCRIBE_REQUEST, StatusReply(), &frame);
  if (absl::Status written = WriteAll(subscription->fd_, frame); !written.ok()) return written;
  // The acknowledgement: every seal after it is reported.
  auto ack = ReadFrame(subscription->fd_, subscription->input_);
  if (!ack.ok()) return ack.status();
  if ((*ack)->type != STATUS_REPLY) return absl::InternalError("unexpected reply to Subscribe");
  return subscription;
}

PlasmaSubscription::~PlasmaSubscription() { ::close(fd_); }

absl::StatusOr<int> ConnectAsNodeOwner(const std::string& socket_path) {
  absl::StatusOr<Greeting> greeting = ConnectToStore(socket_path);
  if (!greeting.ok()) return greeting.status();
  ::close(greeting->arena_fd);
  if (greeting->index_fd >= 0) ::close(greeting->index_fd);
  const int fd = greeting->socket;
  std::string frame;
  AppendFrame(OWNER_REQUEST, StatusReply(), &frame);
  FrameBuffer input;
  absl::Status written = WriteAll(fd, frame);
  auto ack = written.ok() ? ReadFrame(fd, input) : absl::StatusOr<std::optional<Frame>>(written);
  if (!ack.ok() || !ack->has_value() || (*ack)->type != STATUS_REPLY) {
    ::close(fd);
    return ack.ok() ? absl::InternalError("unexpected reply to the owner request") : ack.status();
  }
  return fd;
}

absl::StatusOr<std::optional<ObjectNotification>> PlasmaSubscription::ReadNotification(int64_t timeout_ms) {
  auto frame = ReadFrame(fd_, input_, timeout_ms);
  if (!frame.ok()) return frame.status();
  if (!frame->has_value()) return std::nullopt;
  Notification note;
  if ((*frame)->type != NOTIFICATION || !ParseBody(**frame, &note)) {
    return absl::InternalError("unexpected frame on the subscription");
  }
  auto id = ObjectId::FromBinary(note.id());
  if (!id.ok()) return id.status();
  return ObjectNotification{*id, note.deleted(), note.data_size(), note.metadata_size()};
}

}  // namespace lumen::plasma
