// raylet/lazy_plasma.h
//
// LazyPlasma: one client of the node's plasma store, shared by the threads
// of a component (the object sender, puller and data server), connected at
// the first use, since the store may come up after the raylet. Threading:
// thread-safe (so is the client). Failure: Get returns why it cannot
// connect, and tries again at the next call.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "absl/status/statusor.h"
#include "plasma/client.h"

namespace lumen::raylet {

class LazyPlasma {
 public:
  explicit LazyPlasma(std::string socket) : socket_(std::move(socket)) {}

  absl::StatusOr<std::shared_ptr<plasma::PlasmaClient>> Get() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!client_) {
      auto connected = plasma::PlasmaClient::Connect(socket_);
      if (!connected.ok()) return connected.status();
      client_ = std::move(*connected);
    }
    return client_;
  }

 private:
  const std::string socket_;
  std::mutex mu_;
  std::shared_ptr<plasma::PlasmaClient> client_;  // Guarded by mu_.
};

}  // namespace lumen::raylet
