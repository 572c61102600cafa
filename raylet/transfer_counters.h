// raylet/transfer_counters.h
//
// TransferCounters: what this node's object transfers have done since the
// raylet began, for its metrics (raylet_metrics.h; names in docs/metrics.md).
// The sender (gRPC chunks), the data port and the puller add to it on their
// own threads; a scrape reads it on the loop. Plain relaxed atomics: a
// scrape may see one transfer's counts half added, never a torn value.
// The raylet owns it; each of those takes it by pointer (null: each counts
// into a private one nobody reads, as in their unit tests).
#pragma once

#include <atomic>
#include <cstdint>

namespace lumen::raylet {

struct TransferCounters {
  // Object bytes sent to other nodes from this node's store (chunks and
  // whole data-port sends that completed; probes carry none).
  std::atomic<uint64_t> bytes_sent{0};
  // Object bytes received: objects pulled here and sealed.
  std::atomic<uint64_t> bytes_received{0};
  std::atomic<uint64_t> objects_pulled{0};
  // Pulls that ended without the object (every source failed).
  std::atomic<uint64_t> pulls_failed{0};
  // A source that failed a pull (probe or copy), so that the pull went on
  // to the next one or failed.
  std::atomic<uint64_t> source_failures{0};
  // Pulls under way (waiting for a thread, admission or bytes).
  std::atomic<int64_t> pulls_in_flight{0};
};

}  // namespace lumen::raylet
