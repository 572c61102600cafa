// raylet/object_data.h
//
// The plain TCP data path for object bytes between raylets (docs/objects.md,
// "Between nodes"). gRPC carries the control (PullObject, the probe of a
// source with ReadObjectChunk); the bytes go over this path:
//   puller -> source: one DataRequestHeader, then the cluster token;
//   source -> puller: one DataReplyHeader, then `length` bytes spliced
//   from the source's plasma buffer (vmsplice + splice: the kernel takes
//   the pages, no copy on the source's side); the puller receives them
//   straight into the plasma buffer it created;
//   puller -> source: one byte, the ack, after which the source releases
//   the object. One range per connection.
//
// ObjectDataServer is the source side: it listens on the node's address,
// checks the token in constant time, and serves each connection on one of
// a fixed set of threads. A wrong token or a malformed header closes the
// connection and logs one line; the server keeps serving. Connections
// beyond the threads and a bounded queue are closed at once. It also keeps
// which nodes got each object from here (a whole-object send), so that a
// later puller may be sent to one of those copies (broadcast chaining), and
// how many sends are in flight.
// Threading: every public method is thread-safe. Failure: Start returns
// why it cannot listen; per-connection errors only close that connection.
//
// ReadObjectRange is the puller side: a blocking read of one range into
// memory the caller owns.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/id.h"
#include "common/log_rate_limiter.h"
#include "raylet/lazy_plasma.h"
#include "raylet/transfer_counters.h"

namespace lumen::raylet {

// Little-endian on the wire (every node of a cluster runs on x86-64 or
// aarch64 Linux); sent as raw bytes.
struct DataRequestHeader {
  char magic[4];  // "LMD1"
  uint32_t token_size;  // At most kMaxTokenBytes; the token follows.
  uint64_t offset;
  uint64_t length;
  char object_id[ObjectId::kSize];
  char requester_node_id[NodeId::kSize];  // All zero: unknown.
};
struct DataReplyHeader {
  uint32_t code;  // 0: `length` bytes follow; else an error, message follows.
  uint32_t message_size;
  uint64_t length;
};
inline constexpr uint32_t kMaxTokenBytes = 4096;

struct ObjectDataServerOptions {
  std::string ip;          // The node's address.
  int port = 0;            // 0: a free port.
  std::string token;       // The cluster token; empty: none.
  std::string plasma_socket;
  int threads = 8;         // Sends at once.
  int max_queued = 64;     // Accepted connections waiting for a thread.
  int io_timeout_ms = 60000;   // One read or write stalling longer ends the connection.
  int header_timeout_ms = 5000;
  size_t copies_per_object = 8;  // Nodes remembered per object, newest kept.
  size_t max_objects = 4096;     // Objects with copies remembered, oldest dropped.
  // Testing only ($LUMEN_TESTING_DATA_PAUSE_MS): a send longer than 8 MiB
  // stops this long after its first 8 MiB, so a test can kill a source
  // mid-pull.
  int testing_pause_ms = 0;
  TransferCounters* counters = nullptr;  // Not owned; null: not counted.
};

class ObjectDataServer {
 public:
  explicit ObjectDataServer(ObjectDataServerOptions options);
  ~ObjectDataServer();  // Stops listening and ends the connections under way.

  // Binds and starts the threads. The bound port is port() afterwards.
  absl::Status Start();
  int port() const { return port_; }

  // Sends under way now, and the nodes (binary ids) that got `id` from here,
  // newest first.
  uint32_t sends_in_flight() const { return in_flight_.load(); }
  std::vector<std::string> CopiesOf(const ObjectId& id) const;

 private:
  void AcceptLoop();
  void ServeLoop();
  void Serve(int fd);
  // Reads and checks the header and token; the why on failure (logged).
  absl::StatusOr<DataRequestHeader> ReadHeader(int fd);
  absl::Status Send(int fd, const DataRequestHeader& header);
  void RecordCopy(const ObjectId& id, const std::string& node);
  // Logs why a connection was closed or refused: at most one line per
  // reason every kRefusalLogPeriod, so that a peer without the token
  // cannot flood the log (the line says how many like it went unlogged).
  void LogRefusal(int fd, std::string_view what, std::string_view why);

  ObjectDataServerOptions options_;
  TransferCounters unread_counters_;
  TransferCounters* counters_;  // options_.counters, or unread_counters_.
  LazyPlasma plasma_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::atomic<uint32_t> in_flight_{0};
  std::thread acceptor_;
  std::vector<std::thread> servers_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;                 // Guarded by mu_.
  std::deque<int> queue_;                 // Guarded by mu_.
  std::unordered_set<int> active_;        // Guarded by mu_: fds being served.
  std::unordered_map<ObjectId, std::vector<std::string>> copies_;  // Guarded by mu_.
  std::list<ObjectId> copies_order_;      // Guarded by mu_: oldest first.
  std::mutex refusals_mu_;
  LogRateLimiter refusals_{std::chrono::seconds(10)};  // Guarded by refusals_mu_.
};

// Reads [offset, offset + length) of `id` from the data port at ip:port into
// `dest`. `requester` (binary node id, may be empty) is recorded by the
// source as a copy when the range is the whole object.
absl::Status ReadObjectRange(const std::string& ip, int port, const std::string& token, const ObjectId& id,
                             const std::string& requester, uint64_t offset, uint64_t length, uint8_t* dest,
                             int io_timeout_ms = 60000);

}  // namespace lumen::raylet
