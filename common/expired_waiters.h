// common/expired_waiters.h
//
// Long-poll handlers in the GCS keep their waiting callers in a vector of
// Waiter structs, each with a `deadline_ms`; when a deadline passes the
// owner answers those callers with what they have. TakeExpiredWaiters
// removes and returns them.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <vector>

namespace lumen {

// Moves the waiters whose deadline_ms is at or before `now_ms` out of
// `waiters` (order not kept) and returns them.
template <typename Waiter>
std::vector<Waiter> TakeExpiredWaiters(std::vector<Waiter>& waiters, int64_t now_ms) {
  auto keep_end = std::partition(waiters.begin(), waiters.end(),
                                 [now_ms](const Waiter& w) { return w.deadline_ms > now_ms; });
  std::vector<Waiter> expired;
  std::move(keep_end, waiters.end(), std::back_inserter(expired));
  waiters.erase(keep_end, waiters.end());
  return expired;
}

}  // namespace lumen
