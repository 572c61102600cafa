// raylet/plasma_check.h
//
// The raylet and its node's plasma store share one fate (docs/plasma.md,
// "Fate of a node"):
//   - CheckPlasmaStore: at startup, check that the store named by
//     --plasma-socket answers (connect + ping); reported, never fatal.
//   - PlasmaWatch: the raylet's owner connection to the store, held for the
//     raylet's life. The store exits when it closes (the raylet died); the
//     raylet learns of the store's death when it reads EOF on it, and stops.
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

namespace lumen::raylet {

absl::Status CheckPlasmaStore(const std::string& socket_path);

class PlasmaWatch {
 public:
  // `on_died(message)` is called once, on the loop, when the store goes away
  // after the watch was established.
  PlasmaWatch(boost::asio::io_context& io, std::string socket_path,
              std::function<void(const std::string&)> on_died, int retry_ms = 200);
  ~PlasmaWatch();

  // Connects now, or keeps retrying until the store answers.
  void Start();
  bool watching() const { return stream_.is_open(); }

 private:
  void TryConnect();
  void WaitForClose();

  std::string socket_path_;
  std::function<void(const std::string&)> on_died_;
  int retry_ms_;
  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer retry_;
  bool warned_ = false;
};

}  // namespace lumen::raylet
