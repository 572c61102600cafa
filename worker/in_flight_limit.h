// worker/in_flight_limit.h
//
// InFlightLimit is the backpressure of task submission: a counting gate on
// the tasks a process has submitted and not yet seen finish. Acquire costs
// one atomic increment while fewer than `max` are in flight; past that it
// blocks the submitting thread until completions bring the count down to
// `resume_at`, so a caller that outruns the cluster by millions of tasks
// holds at most `max` task specs in memory instead of growing without bound.
// The hysteresis keeps a blocked submitter from waking once per completion.
// Tasks that wait for resources no node has (infeasible: they can only run
// once such a node joins) are exempt: the submitter reports how many sit in
// its queues (Exempt), and the gate counts in flight minus those, so
// infeasible tasks never hold up the submission of tasks that can run.
// Threading: any thread. Failure: none; Acquire blocks, it never fails.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>

namespace lumen::worker {

class InFlightLimit {
 public:
  InFlightLimit(int64_t max, int64_t resume_at) : max_(max), resume_at_(resume_at) {}

  // Counts one more task in flight; blocks while `max` already are.
  // `on_block(true)` runs before blocking and `on_block(false)` after
  // (a worker lends its CPU to the raylet meanwhile); may be empty.
  void Acquire(const std::function<void(bool)>& on_block = {}) {
    int64_t n = count_.load();
    bool blocked = false;
    while (true) {
      if (n - exempt_.load() < max_) {
        if (count_.compare_exchange_weak(n, n + 1)) break;
        continue;  // n was reloaded.
      }
      if (!blocked && on_block) on_block(true);
      blocked = true;
      {
        std::unique_lock<std::mutex> lock(mu_);
        ++blocked_;
        cv_.wait(lock, [this] { return count_.load() - exempt_.load() <= resume_at_; });
        --blocked_;
      }
      n = count_.load();
    }
    if (blocked && on_block) on_block(false);
  }

  // Counts one more task in flight without ever blocking: for a re-run of
  // a task whose spec is already held (lineage reconstruction), started
  // from threads that must not wait for other tasks to finish.
  void AcquireUnbounded() { count_.fetch_add(1); }

  // One task finished (its result or its error is stored).
  void Release() {
    if (count_.fetch_sub(1) - 1 - exempt_.load() > resume_at_ || blocked_.load() == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }

  // `delta` more (or, negative, fewer) of the tasks in flight wait for
  // resources no node has: they stop (or start again) counting against the
  // bound. Wakes blocked submitters when that frees room.
  void Exempt(int64_t delta) {
    exempt_.fetch_add(delta);
    if (delta <= 0 || blocked_.load() == 0) return;
    std::lock_guard<std::mutex> lock(mu_);
    cv_.notify_all();
  }
  int64_t exempt() const { return exempt_.load(); }

  int64_t in_flight() const { return count_.load(); }

 private:
  const int64_t max_;
  const int64_t resume_at_;
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> exempt_{0};  // Of count_: infeasible, not counted.
  std::atomic<int> blocked_{0};
  std::mutex mu_;
  std::condition_variable cv_;
};

}  // namespace lumen::worker
