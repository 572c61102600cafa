// common/log_rate_limiter.h
//
// LogRateLimiter decides which of a stream of repeated log events is
// written: at most one per `period` for each kind, and the one written
// says how many of its kind were suppressed since the last. For events a
// peer can cause at will (refused connections), so that a flood costs a
// line per period, not a line per event. Pure: the time is passed in.
// Used by the task channel (worker/task_channel.cc) and the raylet's
// object data port (raylet/object_data.cc).
// Threading: none of its own; one thread (its owner's loop) calls it, or
// its owner's lock guards it.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <unordered_map>

namespace lumen {

class LogRateLimiter {
 public:
  using Clock = std::chrono::steady_clock;

  explicit LogRateLimiter(Clock::duration period) : period_(period) {}

  // An event of `kind` at `now`: the number of events of that kind
  // suppressed since the last one written when this one is to be written,
  // nullopt when it is suppressed.
  std::optional<uint64_t> Admit(int kind, Clock::time_point now) {
    auto [it, first] = kinds_.try_emplace(kind);
    Kind& k = it->second;
    if (!first && now - k.last_written < period_) {
      ++k.suppressed;
      return std::nullopt;
    }
    k.last_written = now;
    uint64_t suppressed = k.suppressed;
    k.suppressed = 0;
    return suppressed;
  }

 private:
  struct Kind {
    Clock::time_point last_written;
    uint64_t suppressed = 0;
  };
  Clock::duration period_;
  std::unordered_map<int, Kind> kinds_;
};

}  // namespace lumen
