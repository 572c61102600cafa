#include "worker/in_flight_limit.h"

#include <catch2/catch.hpp>
#include <future>
#include <thread>

using lumen::worker::InFlightLimit;

TEST_CASE("InFlightLimit admits up to its bound, then blocks until completions reach resume_at") {
  InFlightLimit limit(/*max=*/3, /*resume_at=*/1);
  limit.Acquire();
  limit.Acquire();
  limit.Acquire();
  CHECK(limit.in_flight() == 3);
  std::promise<void> blocked;
  std::promise<void> unblocked;
  std::thread submitter([&] {
    limit.Acquire([&](bool is_blocked) {
      (is_blocked ? blocked : unblocked).set_value();
    });
  });
  blocked.get_future().wait();  // It found the limit full and announced it.
  CHECK(limit.in_flight() == 3);
  limit.Release();  // 2 in flight: above resume_at, still blocked.
  CHECK(unblocked.get_future().wait_for(std::chrono::seconds(0)) != std::future_status::ready);
  limit.Release();  // 1: at resume_at, the submitter gets its slot.
  submitter.join();
  CHECK(limit.in_flight() == 2);
}

TEST_CASE("InFlightLimit never counts past its bound with several submitters") {
  InFlightLimit limit(/*max=*/8, /*resume_at=*/4);
  std::atomic<int64_t> peak{0};
  std::atomic<bool> stop{false};
  std::thread releaser([&] {
    int released = 0;
    while (released < 4000) {
      int64_t now = limit.in_flight();
      if (now > peak) peak = now;
      if (now > 0) {
        limit.Release();
        ++released;
      } else {
        std::this_thread::yield();
      }
    }
  });
  std::vector<std::thread> submitters;
  for (int t = 0; t < 4; ++t) {
    submitters.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) limit.Acquire();
    });
  }
  for (auto& s : submitters) s.join();
  releaser.join();
  CHECK(peak <= 8);
  CHECK(limit.in_flight() == 0);
}

TEST_CASE("a re-run counts in flight past the limit without blocking") {
  InFlightLimit limit(1, 0);
  limit.Acquire();
  limit.AcquireUnbounded();  // Would block forever if it waited for a slot.
  CHECK(limit.in_flight() == 2);
  limit.Release();
  limit.Release();
  CHECK(limit.in_flight() == 0);
}

TEST_CASE("exempt tasks (infeasible) do not count against the bound, and exempting wakes a blocked submitter") {
  InFlightLimit limit(/*max=*/2, /*resume_at=*/1);
  limit.Acquire();
  limit.Acquire();
  std::promise<void> blocked;
  std::thread submitter([&] {
    limit.Acquire([&](bool is_blocked) {
      if (is_blocked) blocked.set_value();
    });
  });
  blocked.get_future().wait();
  limit.Exempt(2);  // Both in flight wait for resources no node has.
  submitter.join();
  CHECK(limit.in_flight() == 3);
  limit.Acquire();  // 4 in flight, 2 exempt: room for one more...
  CHECK(limit.in_flight() == 4);
  limit.Exempt(-2);  // ...until they count again: 4 against a bound of 2.
  std::promise<void> blocked_again;
  std::thread late([&] {
    limit.Acquire([&](bool is_blocked) {
      if (is_blocked) blocked_again.set_value();
    });
  });
  blocked_again.get_future().wait();
  for (int i = 0; i < 3; ++i) limit.Release();  // 1 left: at resume_at.
  late.join();
  CHECK(limit.in_flight() == 2);
}
