// worker/actor_call_order.h
//
// ActorCallOrder puts an actor's incoming pushes back into each caller's
// order. A push holds `count` calls of one caller with consecutive sequence
// numbers from `first_seq`, and the caller's floor (every call of that
// caller below it is finished or given up). A push is released when all of
// that caller's earlier calls have been; later ones wait here. A caller
// first seen starts at its floor (a restarted actor, or a caller whose
// earlier calls failed, does not wait for calls that will never come).
// A push that starts below the caller's next expected number repeats calls
// already released (the caller resent them after a broken connection): it
// comes back as stale, and the executor answers it with an error, since
// the results are gone.
// Cost: O(log waiting) per push; one small entry per caller ever seen.
// Threading: none; the executor guards it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"

namespace lumen::worker {

template <typename Push>
class ActorCallOrder {
 public:
  void Admit(const std::string& caller, int64_t floor, int64_t first_seq, int64_t count, Push push,
             std::vector<Push>* ready, std::vector<Push>* stale) {
    Caller& c = callers_[caller];
    if (c.next == 0) c.next = floor > 0 ? floor : first_seq;
    if (floor > c.next) {
      c.next = floor;
      // Pushes waiting below the new floor were given up by the caller.
      while (!c.waiting.empty() && c.waiting.begin()->first < c.next) {
        stale->push_back(std::move(c.waiting.begin()->second.second));
        c.waiting.erase(c.waiting.begin());
      }
    }
    if (first_seq < c.next) {
      stale->push_back(std::move(push));
    } else {
      c.waiting.emplace(first_seq, std::make_pair(count, std::move(push)));
    }
    while (!c.waiting.empty() && c.waiting.begin()->first == c.next) {
      c.next += c.waiting.begin()->second.first;
      ready->push_back(std::move(c.waiting.begin()->second.second));
      c.waiting.erase(c.waiting.begin());
    }
  }

  size_t NumWaiting() const {
    size_t n = 0;
    for (const auto& [id, c] : callers_) n += c.waiting.size();
    return n;
  }

 private:
  struct Caller {
    int64_t next = 0;  // The next sequence number to release.
    std::map<int64_t, std::pair<int64_t, Push>> waiting;  // first_seq -> (count, push).
  };
  absl::flat_hash_map<std::string, Caller> callers_;
};

}  // namespace lumen::worker
