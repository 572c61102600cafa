// worker/long_polls.h
//
// The long polls a CoreWorker holds open for other processes: a borrower's
// GetObjectStatus for a value not ready yet, a WaitForRefRemoved. gRPC's
// Server::Shutdown waits for every call in progress, so one poll never
// answered would hang the process's stop. AnswerAll, called before the
// server stops, answers each poll still open with its shutdown reply; a poll
// tracked after that is answered at once.
// Threading: thread-safe; answers run outside the lock.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/rpc/server.h"

namespace lumen::worker {

class LongPolls {
 public:
  class Poll {
   public:
    // True for the first caller only, who then fills the reply and calls
    // Finish; the others must leave the reply alone.
    bool Claim() { return !claimed_.exchange(true); }
    void Finish(absl::Status status) {
      owner_->Untrack(id_);
      done_(std::move(status));
    }

   private:
    friend class LongPolls;
    LongPolls* owner_ = nullptr;
    uint64_t id_ = 0;
    std::atomic<bool> claimed_{false};
    rpc::Done done_;
    std::function<void()> on_shutdown_;  // Fills the reply of a shutdown answer; may be empty.
  };

  // `done` answers the call. The LongPolls must outlive every callback
  // holding the returned poll that may still run.
  std::shared_ptr<Poll> Track(rpc::Done done, std::function<void()> on_shutdown) {
    auto poll = std::make_shared<Poll>();
    poll->owner_ = this;
    poll->done_ = std::move(done);
    poll->on_shutdown_ = std::move(on_shutdown);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!closed_) {
        poll->id_ = ++next_id_;
        open_[poll->id_] = poll;
        return poll;
      }
    }
    AnswerAtShutdown(*poll);
    return poll;
  }

  void AnswerAll() {
    absl::flat_hash_map<uint64_t, std::shared_ptr<Poll>> open;
    {
      std::lock_guard<std::mutex> lock(mu_);
      closed_ = true;
      open.swap(open_);
    }
    for (auto& [id, poll] : open) AnswerAtShutdown(*poll);
  }

  size_t Size() const {
    std::lock_guard<std::mutex> lock(mu_);
    return open_.size();
  }

 private:
  void Untrack(uint64_t id) {
    std::lock_guard<std::mutex> lock(mu_);
    open_.erase(id);
  }
  static void AnswerAtShutdown(Poll& poll) {
    if (!poll.Claim()) return;
    if (poll.on_shutdown_) poll.on_shutdown_();
    poll.done_(absl::OkStatus());
  }

  mutable std::mutex mu_;
  bool closed_ = false;
  uint64_t next_id_ = 0;
  absl::flat_hash_map<uint64_t, std::shared_ptr<Poll>> open_;
};

}  // namespace lumen::worker
