#include "plasma/connection.h"

#include <sys/socket.h>

#include <cerrno>

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "glog/logging.h"
#include "plasma/fd_passing.h"

namespace lumen::plasma {

namespace {
constexpr size_t kReadChunk = 64 * 1024;
}  // namespace

Connection::Connection(boost::asio::local::stream_protocol::socket socket, uint64_t id,
                       FrameHandler& handler)
    : socket_(std::move(socket)), id_(id), handler_(handler) {}

void Connection::Start(const std::string& greeting, const std::vector<int>& fds) {
  // A fresh socket's buffer is empty, so this small blocking send returns at once.
  absl::Status sent = SendWithFds(socket_.native_handle(), greeting.data(), greeting.size(), fds);
  if (!sent.ok()) {
    Close("greeting failed: " + std::string(sent.message()));
    return;
  }
  socket_.non_blocking(true);
  ReadSome();
}

void Connection::ReadSome() {
  size_t available = 0;
  char* space = input_.WritableSpace(kReadChunk, &available);
  socket_.async_read_some(
      boost::asio::buffer(space, available),
      [self = shared_from_this()](const boost::system::error_code& error, size_t bytes) {
        if (self->closed_) return;
        if (error) {
          self->Close(error == boost::asio::error::eof ? "" : "read error: " + error.message());
          return;
        }
        self->input_.Commit(bytes);
        self->HandleFrames();
        if (!self->closed_) self->ReadSome();
      });
}

void Connection::HandleFrames() {
  in_batch_ = true;
  while (!closed_) {
    auto frame = input_.Next();
    if (!frame.ok()) {
      Close(std::string(frame.status().message()));
      break;
    }
    if (!frame->has_value()) break;
    absl::Status handled = handler_.HandleFrame(*this, **frame);
    if (!handled.ok()) Close(std::string(handled.message()));
  }
  in_batch_ = false;
  if (!closed_) Flush();
}

void Connection::Send(MessageType type, const google::protobuf::MessageLite& body) {
  if (closed_ || close_posted_) return;
  AppendFrame(type, body, &pending_);
  if (pending_.size() > kMaxPendingOutput) {
    CloseLater("client does not read its replies");
    return;
  }
  if (!in_batch_) Flush();
}

void Connection::Flush() {
  if (writing_ || pending_.empty() || closed_) return;
  ssize_t sent = ::send(socket_.native_handle(), pending_.data(), pending_.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
    CloseLater("");  // The peer went away.
    return;
  }
  if (sent > 0) pending_.erase(0, static_cast<size_t>(sent));
  if (pending_.empty()) return;
  writing_ = true;
  inflight_.swap(pending_);
  boost::asio::async_write(socket_, boost::asio::buffer(inflight_),
                           [self = shared_from_this()](const boost::system::error_code& error, size_t) {
                             self->writing_ = false;
                             self->inflight_.clear();
                             if (self->closed_) return;
                             if (error) {
                               self->Close("write error: " + error.message());
                               return;
                             }
                             self->Flush();
                           });
}

void Connection::CloseLater(const std::string& reason) {
  if (closed_ || close_posted_) return;
  close_posted_ = true;
  boost::asio::post(socket_.get_executor(), [self = shared_from_this(), reason] { self->Close(reason); });
}

void Connection::Close(const std::string& reason) {
  if (closed_) return;
  closed_ = true;
  if (!reason.empty()) LOG(WARNING) << "closing client " << id_ << ": " << reason;
  boost::system::error_code ignored;
  socket_.shutdown(boost::asio::socket_base::shutdown_both, ignored);
  socket_.close(ignored);
  handler_.HandleClosed(*this);
}

}  // namespace lumen::plasma
