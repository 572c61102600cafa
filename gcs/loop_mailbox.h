// gcs/loop_mailbox.h
//
// LoopMailbox lets threads that may outlive the GCS loop (gRPC completion
// callbacks of in-flight calls) hand work to it safely: after Close(),
// posts are dropped instead of reaching a stopped or destroyed loop.
// Shared by shared_ptr between the owner and every callback.
// Threading: any thread.
#pragma once

#include <functional>

#include "absl/synchronization/mutex.h"
#include "common/event_loop.h"

namespace lumen::gcs {

class LoopMailbox {
 public:
  explicit LoopMailbox(EventLoop* loop) : loop_(loop) {}

  void Post(std::function<void()> fn) {
    absl::MutexLock lock(&mu_);
    if (loop_ != nullptr) loop_->Post(std::move(fn));
  }
  void Close() {
    absl::MutexLock lock(&mu_);
    loop_ = nullptr;
  }

 private:
  absl::Mutex mu_;
  EventLoop* loop_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lumen::gcs
