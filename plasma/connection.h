// plasma/connection.h
//
// Connection is the store's end of one client socket: it reads bytes, cuts
// them into frames for its FrameHandler, and queues outgoing frames. Replies
// produced while a batch of frames is handled leave in one write. A framing
// error or a handler's refusal closes only this connection, with the reason
// logged. Threading: the store loop only. Connections are shared_ptr-owned
// by their pending I/O; Close() is idempotent and tells the handler once.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/local/stream_protocol.hpp>

#include "absl/status/status.h"
#include "plasma/protocol.h"

namespace lumen::plasma {

class Connection;

class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  // Handles one frame; a non-OK status closes the connection.
  virtual absl::Status HandleFrame(Connection& connection, const Frame& frame) = 0;
  virtual void HandleClosed(Connection& connection) = 0;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  // Pending output beyond this closes the connection (a stuck subscriber).
  static constexpr size_t kMaxPendingOutput = 256u << 20;

  Connection(boost::asio::local::stream_protocol::socket socket, uint64_t id, FrameHandler& handler);

  // Sends the greeting with `fds` attached, then starts reading.
  void Start(const std::string& greeting, const std::vector<int>& fds);
  // Queues a frame; written at the end of the current batch or at once.
  void Send(MessageType type, const google::protobuf::MessageLite& body);
  // Closes now and tells the handler (from the handler's own calls) ...
  void Close(const std::string& reason);
  // ... or from the loop's next turn (from Send, which the store may call
  // in the middle of its own work).
  void CloseLater(const std::string& reason);

  uint64_t id() const { return id_; }
  bool closed() const { return closed_; }

 private:
  void ReadSome();
  void HandleFrames();
  void Flush();

  boost::asio::local::stream_protocol::socket socket_;
  uint64_t id_;
  FrameHandler& handler_;
  FrameBuffer input_;
  std::string pending_;   // Frames not yet written.
  std::string inflight_;  // Frames an async_write is writing.
  bool writing_ = false;
  bool in_batch_ = false;
  bool closed_ = false;
  bool close_posted_ = false;
};

}  // namespace lumen::plasma
