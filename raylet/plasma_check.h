// raylet/plasma_check.h
//
// The raylet and its node's plasma store share one fate (docs/plasma.md,
// "Fate of a node"):
//   - CheckPlasmaStore: at startup, check that the store named by
//     --plasma-socket answers (connect + ping); reported, never fatal.
//   - PlasmaWatch: the raylet's owner connection to the store, held for the
//     raylet's life. The store exits when it closes (the raylet died); the
//     raylet learns of the store's death when it reads EOF on it, and stops.
//     The store also sends its orders on it (spill, restore, spill file
//     freed: plasma.proto SPILL_ORDER...), handed to the order handler.
// Built against lumen_plasma_client when that library exists; without it
// the check only looks for the socket file and the watch does nothing.
// Threading: PlasmaWatch lives on the raylet's loop. Failure: a store that
// is not there yet is retried every retry period until it answers.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "absl/status/status.h"
#include "common/id.h"

namespace lumen::raylet {

absl::Status CheckPlasmaStore(const std::string& socket_path);

class PlasmaWatch {
 public:
  // `on_died(message)` is called once, on the loop, when the store goes away
  // after the watch was established.
  PlasmaWatch(boost::asio::io_context& io, std::string socket_path,
              std::function<void(const std::string&)> on_died, int retry_ms = 200);
  ~PlasmaWatch();

  // Called on the loop with each order frame's type (plasma::MessageType)
  // and ids.
  using OrderHandler = std::function<void(int type, const std::vector<ObjectId>& ids)>;
  void SetOrderHandler(OrderHandler handler) { on_order_ = std::move(handler); }

  // Connects now, or keeps retrying until the store answers.
  void Start();
  bool watching() const { return stream_.is_open(); }

 private:
  void TryConnect();
  void WaitForClose();
  // Parses what arrived; false when the stream is broken.
  bool HandleInput(const char* data, size_t size);

  std::string socket_path_;
  std::function<void(const std::string&)> on_died_;
  int retry_ms_;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer retry_;
  bool warned_ = false;
  OrderHandler on_order_;
  std::string input_;  // Bytes of an incomplete frame.
};

}  // namespace lumen::raylet
