// plasma/server.h
//
// PlasmaServer listens on the store's Unix socket, greets every client with
// the arena's descriptor, decodes requests for the PlasmaStore and sends its
// replies; it owns the Get timeouts and the list of subscribers. It also
// prepares the socket's directory: created with mode 0700 when missing,
// refused when others may enter it.
// Threading: every method runs on the loop thread of `io`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "plasma/connection.h"
#include "plasma/store.h"

namespace lumen::plasma {

// Creates the parent directory of `socket_path` with mode 0700 if needed;
// fails if it exists and is not owned by us or is open to group/others.
absl::Status PrepareSocketDirectory(const std::string& socket_path);

class PlasmaServer : public FrameHandler {
 public:
  // `store` is not owned; `arena_fd` and `index_fd` (-1: none) are passed to
  // every client.
  PlasmaServer(boost::asio::io_context& io, PlasmaStore& store, int arena_fd, uint64_t arena_size,
               int index_fd = -1, uint64_t index_size = 0);
  ~PlasmaServer() override;

  // Binds and listens; a stale socket file nobody serves is replaced.
  absl::Status Listen(const std::string& socket_path);
  // Closes the listener and every client, and removes the socket file.
  void Stop();

  size_t client_count() const { return connections_.size(); }
  // Called (on the loop, once) when the connection of the node's raylet
  // (OWNER_REQUEST) closes: the raylet died or stopped.
  void SetOnOwnerLost(std::function<void()> fn) { on_owner_lost_ = std::move(fn); }

  absl::Status HandleFrame(Connection& connection, const Frame& frame) override;
  void HandleClosed(Connection& connection) override;

 private:
  void Accept();
  void Greet(const std::shared_ptr<Connection>& connection);
  void HandleGet(Connection& connection, const GetRequest& request);
  absl::Status HandleObjectRequest(Connection& connection, const Frame& frame);
  absl::Status HandleObjectsRequest(Connection& connection, const Frame& frame);
  void Notify(const Notification& note);
  static SpillHooks OwnerHooks(std::weak_ptr<Connection> owner);

  boost::asio::io_context& io_;
  PlasmaStore& store_;
  int arena_fd_;
  uint64_t arena_size_;
  int index_fd_;
  uint64_t index_size_;
  std::string socket_path_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  uint64_t next_client_id_ = 1;
  uint64_t owner_ = 0;  // Connection id of the node's raylet; 0: none yet.
  std::function<void()> on_owner_lost_;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Connection>> connections_;
  absl::flat_hash_map<uint64_t, std::weak_ptr<Connection>> subscribers_;
  absl::flat_hash_map<uint64_t, std::unique_ptr<boost::asio::steady_timer>> get_timers_;
};

}  // namespace lumen::plasma
