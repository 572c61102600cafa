// common/rpc/retry.h
//
// RetryLost: repeats a blocking, idempotent call while it fails as a lost
// request or reply would (IsLostMessage: UNAVAILABLE, DEADLINE_EXCEEDED),
// 8 attempts in all, waiting 50, 100, 200, then 400 ms between, so that a
// peer that is really gone is reported after about 2 s. `call` returns an
// absl::Status or absl::StatusOr. Threading: blocks the calling thread.
#pragma once

#include <algorithm>
#include <chrono>
#include <thread>

#include "common/rpc/grpc_status.h"

namespace lumen::rpc {

template <typename Call>
auto RetryLost(Call call) {
  constexpr int kAttempts = 8;
  auto result = call();
  for (int attempt = 1; attempt < kAttempts && IsLostMessage(StatusOf(result)); ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(50 << (attempt - 1), 400)));
    result = call();
  }
  return result;
}

}  // namespace lumen::rpc
