// raylet/object_transfer.h
//
// Object transfer between nodes (docs/objects.md, "Between nodes").
//
// ObjectSender serves ReadObjectChunk: a range of an object sealed in this
// node's store (a spilled object is restored first: the store's Get orders
// the restore and waits for it). A probe (length 0) gets the size and
// metadata, and, when this node has one, its data port (object_data.h), the
// sends it has in flight and the nodes that got the object from here.
//
// ObjectPuller serves PullObject: it probes a node said to hold the object
// and the copies that node knows of (broadcast chaining), picks the one
// with the fewest sends in flight, and reads the whole object over that
// node's data port (one plain TCP stream), or, where it has none, in chunks
// of `chunk_bytes` with `streams` ReadObjectChunk calls in flight; either
// way straight into a plasma buffer created for it (Create, receive, Seal:
// an unpinned secondary copy, evictable). Requests for an object already
// being pulled wait on that pull, and a pull copies only once PullBook
// admits its size (a share of the local store); a source that fails (dead
// node, object gone, killed mid-stream) is followed by the next one.
//   loop: Pull -> PullBook::AddWaiter -> (first) job on a pull thread:
//   thread: probe sources and their copies (size, load) -> ask loop for
//           admission, wait -> Create, receive, Seal (or Abort, next source)
//   loop: Finish -> waiters get the outcome; admitted queued pulls go on.
// Threading: Pull and FillStats on the raylet loop; copies on the pull
// threads (never the loop), each source call a blocking gRPC call there.
// Failure: a pull whose every source failed completes with UNAVAILABLE
// naming each source and why ("cannot pull object <id>: node <id> at
// <ip:port>: ...").
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/event_loop.h"
#include "common/id.h"
#include "common/rpc/client.h"
#include "proto/raylet.grpc.pb.h"
#include "raylet/lazy_plasma.h"
#include "raylet/pull_book.h"
#include "raylet/transfer_counters.h"

namespace lumen::raylet {

class ObjectDataServer;

class ObjectSender {
 public:
  // `data` (may be null: no data port) and `counters` (may be null) are not
  // owned and must outlive this.
  explicit ObjectSender(std::string plasma_socket, ObjectDataServer* data = nullptr,
                        TransferCounters* counters = nullptr);
  ~ObjectSender();
  // Thread-safe (gRPC threads). Waits up to kRestoreWaitMs for an object
  // that is not in memory (spilled, or not here: NOT_FOUND then).
  absl::Status Read(const rpc::ReadObjectChunkRequest& request, rpc::ReadObjectChunkReply* reply);
  static constexpr uint64_t kMaxChunkBytes = 8 << 20;
  static constexpr int64_t kRestoreWaitMs = 10000;

 private:
  LazyPlasma plasma_;
  ObjectDataServer* data_;
  TransferCounters unread_counters_;
  TransferCounters* counters_;
};

struct ObjectPullerOptions {
  std::string plasma_socket;
  std::string token;
  std::string local_node_id;        // Binary.
  uint64_t chunk_bytes = 4 << 20;
  int streams = 4;                  // Chunk calls in flight per pull.
  int threads = 4;                  // Pulls under way at once (queued or copying).
  uint64_t budget_bytes = 0;        // Copying at once; 0: half the store.
  int64_t call_timeout_ms = 60000;  // One chunk call.
  // The probe of a copy another node named: a copy is in memory or gone
  // (evicted), never restored, so it answers at once or is skipped.
  int64_t copy_probe_timeout_ms = 2000;
  TransferCounters* counters = nullptr;  // Not owned; null: not counted.
};

class ObjectPuller {
 public:
  // The raylet address of a node (binary id), when it is alive and known.
  using Resolve = std::function<std::optional<rpc::Address>(const std::string& node_id)>;
  using Done = std::function<void(const absl::Status&)>;

  ObjectPuller(EventLoop& loop, ObjectPullerOptions options, Resolve resolve);
  // The default budget: half the capacity of the store at `plasma_socket`
  // (1 GiB when the store cannot be asked).
  static uint64_t DefaultBudget(const std::string& plasma_socket);
  ~ObjectPuller();  // Finishes the pulls under way, drops the rest.

  // Loop. `done` (on the loop) once `request.object_id` is sealed in the
  // local store, or with why it could not be.
  void Pull(const rpc::PullObjectRequest& request, Done done);
  // Loop. objects_pulled, bytes_pulled.
  void FillStats(rpc::GetNodeStatsReply* reply) const;

 private:
  struct Source {
    std::string name;  // "node <hex> at <ip:port>", for errors.
    std::string address;
    std::string ip;
    std::string node_id;  // Binary.
  };
  // A source that answered the probe.
  struct Candidate {
    Source source;
    rpc::ReadObjectChunkReply probe;
  };
  struct Job {
    ObjectId id;
    std::vector<Source> sources;
    std::vector<std::string> errors;  // Sources already found wanting.
  };
  using RayletClient = rpc::RpcClient<rpc::RayletService>;

  // Loop. Resolves `nodes` into a job for the pull threads; when none is
  // known, tries again every kResolveRetry, kResolveAttempts times (the
  // cluster view may not have a node that just joined), then fails the pull.
  void StartJob(const ObjectId& id, std::vector<std::string> nodes, int attempt);
  static constexpr int kResolveAttempts = 5;
  static constexpr std::chrono::milliseconds kResolveRetry{200};
  void RunThread();
  // The object's size once sealed here; every failed source in `job.errors`.
  absl::StatusOr<uint64_t> PullJob(Job& job);
  // `timeout_ms` < 0: call_timeout_ms.
  absl::StatusOr<rpc::ReadObjectChunkReply> Probe(const ObjectId& id, const Source& source, int64_t timeout_ms = -1);
  // The first source that answers, then the copies it knows of, least
  // loaded first; then the unprobed sources (probed when their turn comes).
  std::vector<Candidate> Candidates(Job& job, size_t* next_source);
  std::optional<Source> SourceOf(const std::string& node_id);
  static Source MakeSource(const std::string& node_id, const rpc::Address& raylet);  // Thread: resolves on the loop.
  absl::Status Copy(const Candidate& from, const ObjectId& id);
  absl::Status CopyChunks(const Source& source, const ObjectId& id, uint64_t size, uint8_t* dest);
  // Thread: asks the loop to admit `size` bytes for `id`; blocks until then.
  void WaitAdmission(const ObjectId& id, uint64_t size);
  // Loop.
  void Finish(const ObjectId& id, const absl::Status& status, uint64_t bytes);
  // One client, so one TCP connection, per lane (stream) to a raylet.
  RayletClient& ClientFor(const std::string& address, int lane);

  EventLoop& loop_;
  ObjectPullerOptions options_;
  Resolve resolve_;
  PullBook book_;  // Loop only.
  uint64_t objects_pulled_ = 0;  // Loop only.
  uint64_t bytes_pulled_ = 0;
  TransferCounters unread_counters_;
  TransferCounters* counters_;  // options_.counters, or unread_counters_.

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Job> jobs_;      // Guarded by mu_.
  std::unordered_map<ObjectId, bool> admitted_;  // Guarded by mu_: waiting pulls, admitted or not.
  bool stopping_ = false;     // Guarded by mu_.
  std::map<std::string, std::unique_ptr<RayletClient>> clients_;  // Guarded by mu_.
  LazyPlasma plasma_;
  std::vector<std::thread> threads_;
};

}  // namespace lumen::raylet
