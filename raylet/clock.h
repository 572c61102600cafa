// raylet/clock.h
//
// Clock is the raylet's view of time, a narrow interface so tests can move
// time by hand (FakeClock). Milliseconds of a monotonic clock.
// Threading: SteadyClock is thread-safe; FakeClock belongs to one test.
#pragma once

#include <chrono>
#include <cstdint>

namespace lumen::raylet {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMs() const = 0;
};

class SteadyClock : public Clock {
 public:
  int64_t NowMs() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock : public Clock {
 public:
  int64_t NowMs() const override { return now_ms_; }
  void AdvanceMs(int64_t ms) { now_ms_ += ms; }

 private:
  int64_t now_ms_ = 1000000;
};

}  // namespace lumen::raylet
