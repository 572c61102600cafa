// common/clock.h
//
// Clock is every daemon's seam to time: a monotonic clock for timeouts and
// periods, and wall time for the start/end stamps shown to users.
// SystemClock reads the real clocks; FakeClock is moved by tests by hand.
// Threading: both are safe to read from any thread; FakeClock must only be
// advanced while nothing else reads it (tests drive everything by hand).
#pragma once

#include <chrono>
#include <cstdint>

namespace lumen {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds on a clock that never goes back (std::steady_clock).
  virtual int64_t MonotonicMs() const = 0;
  // Milliseconds since the Unix epoch.
  virtual int64_t WallMs() const = 0;
};

class SystemClock : public Clock {
 public:
  int64_t MonotonicMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
  int64_t WallMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1000) : now_ms_(start_ms) {}
  int64_t MonotonicMs() const override { return now_ms_; }
  int64_t WallMs() const override { return kWallOffsetMs + now_ms_; }
  void AdvanceMs(int64_t ms) { now_ms_ += ms; }

  static constexpr int64_t kWallOffsetMs = 1'700'000'000'000;

 private:
  int64_t now_ms_;
};

}  // namespace lumen
