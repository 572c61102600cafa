// plasma/client.h
//
// PlasmaClient talks to the node's plasma store over its Unix socket. At
// Connect the store passes the arena's descriptor and the client maps it
// once; Create and Get then return pointers into that mapping (no copy).
//
// Object life as a client sees it:
//   Create -> write through MutableBuffer -> Seal   (or Put, which does all
//   three; small puts travel inline in one round trip). Seal gives the
//   object up: it may be evicted once nobody holds it unless it was created
//   with `pin` or pinned by Pin().
//   Get -> read through ObjectBuffer -> Release. Each successful Get of an
//   object counts one hold; the pointers stay valid until the matching
//   Release. Holds are counted in the client, so a repeated Get of a held
//   object needs no round trip. Released objects of up to 1 MiB stay held
//   in a small cache (64 objects, 8 MiB), so getting them again costs no
//   round trip either; the oldest leave the cache (and are released to the
//   store) as others come in, and FlushReleases() empties it. Until then a
//   cached object cannot be evicted, and a Get of it succeeds even if
//   another client deleted it meanwhile (ids are immutable, so the bytes
//   are still right). Large objects are released to the store at once.
//   A Release sends at most one one-way message and never waits.
// Everything a client holds or has not sealed is released or aborted by the
// store when the client disconnects or dies.
//
// Fast path (docs/plasma.md): the store shares an object index with its
// clients (plasma/object_index.h). A Get of a sealed object takes it from
// the index (sets this client's holder bit) without a round trip; its last
// Release clears the bit. A Put of up to ObjectIndex::kSlabObjectLimit
// bytes is copied into a slab of the arena the store granted this client,
// published in the index (a duplicate id is AlreadyExists at once), and
// announced to the store with a one-way message; the call does not wait.
// Store full, index full or no slot: the same calls go over the socket.
//
// Owners and spilling (docs/plasma.md): a process that owns objects calls
// Identify(worker id) once; its pinned creates are then primaries owned by
// it (or by the `owner` a create names), deleted by the store when the
// owner's process exits. A Create that does not fit while the raylet spills
// pinned objects to disk waits and retries, up to kSpillWaitMs.
//
// Threading: every method is thread-safe; calls are serialized on one socket
// (a Get that waits blocks the client's other callers; use another client
// for concurrent waits). Errors are absl::Status: AlreadyExists (Create of
// an existing id), NotFound (unknown id; a Get of a deleted id is NotFound
// with IsObjectDeleted() true), ResourceExhausted (store full, message names
// the sizes), FailedPrecondition, PermissionDenied, InvalidArgument, and
// Unavailable when the store is gone.
#pragma once

#include <cstdint>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "common/id.h"
#include "plasma/index_client.h"
#include "plasma/protocol.h"

namespace lumen::plasma {

struct ObjectBuffer {
  const uint8_t* data = nullptr;
  uint64_t data_size = 0;
  const uint8_t* metadata = nullptr;
  uint64_t metadata_size = 0;
};

struct MutableBuffer {
  uint8_t* data = nullptr;
  uint64_t data_size = 0;
  uint8_t* metadata = nullptr;
  uint64_t metadata_size = 0;
};

// True for the status of a Get that asked for a recently deleted object.
bool IsObjectDeleted(const absl::Status& status);

class PlasmaClient {
 public:
  // Puts up to this many bytes (data + metadata) inline, in one round trip.
  static constexpr uint64_t kInlinePutLimit = 64 * 1024;

  static absl::StatusOr<std::unique_ptr<PlasmaClient>> Connect(const std::string& socket_path);
  ~PlasmaClient();  // Unmaps the arena; the store releases what we held.

  // How long a Create waits for spilling to make room before it fails.
  static constexpr int64_t kSpillWaitMs = 60000;

  // `owner` (a WorkerId, binary) owns a pinned object; empty: Identify's.
  absl::StatusOr<MutableBuffer> Create(const ObjectId& id, uint64_t data_size, uint64_t metadata_size,
                                       bool pin = false, std::string_view owner = {});
  // This connection speaks for worker `owner` (binary WorkerId). One-way.
  absl::Status Identify(std::string_view owner);
  absl::StatusOr<StatsReply> Stats();
  // For the raylet: refills spilled `id` (Create with restore), and reports
  // a spill (NotFound: keep nothing, the object stayed in memory or is gone).
  absl::StatusOr<MutableBuffer> CreateForRestore(const ObjectId& id, uint64_t data_size, uint64_t metadata_size);
  absl::Status ReportSpill(const ObjectId& id, const std::string& error);
  absl::Status Seal(const ObjectId& id);
  absl::Status Abort(const ObjectId& id);
  absl::Status Put(const ObjectId& id, const void* data, size_t size, const void* metadata = nullptr,
                   size_t metadata_size = 0, bool pin = false, std::string_view owner = {});

  struct PutItem {
    ObjectId id;
    std::string_view data;
    std::string_view metadata;
  };
  // Puts many objects with one write and one wait for all replies (objects
  // above kInlinePutLimit go one by one). Every item is attempted; returns
  // the first error.
  absl::Status PutBatch(const std::vector<PutItem>& items, bool pin = false);

  // One entry per id, nullopt for objects not sealed when `timeout_ms`
  // passed (0: do not wait, < 0: wait forever).
  absl::StatusOr<std::vector<std::optional<ObjectBuffer>>> Get(const std::vector<ObjectId>& ids,
                                                               int64_t timeout_ms);
  absl::Status Release(const ObjectId& id);
  // Releases every object kept in the release cache.
  absl::Status FlushReleases();
  absl::StatusOr<bool> Contains(const ObjectId& id);
  // Deletes sealed objects now, or at their last release if held.
  absl::Status Delete(const std::vector<ObjectId>& ids);
  absl::Status Pin(const std::vector<ObjectId>& ids, bool pin);
  absl::Status Ping();

  uint64_t arena_size() const { return arena_size_; }

 private:
  struct Held {
    int count = 0;  // 0: only kept in the release cache.
    bool fast = false;  // Held through the index (our bit), not the socket.
    ObjectBuffer buffer;
    std::list<ObjectId>::iterator cached;  // Valid when count == 0.
  };
  static constexpr uint64_t kCacheableSize = 1 << 20;
  static constexpr size_t kCacheEntries = 64;
  static constexpr uint64_t kCacheBytes = 8 << 20;
  // Holds that reached zero, by the way they were taken.
  struct Releases {
    std::vector<ObjectId> socket;
    std::vector<ObjectId> fast;
  };
  PlasmaClient(int fd, uint8_t* base, uint64_t arena_size, std::unique_ptr<IndexClient> index);
  // One Create round trip, repeated while the store spills to make room.
  absl::StatusOr<MutableBuffer> CreateWithRequest(const CreateRequest& request);

  // Clears the index holds in `releases` now and queues a Release (and an
  // UnholdNotice if needed) in output_; Write sends them with what follows.
  void QueueRelease(const Releases& releases) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Unhold(const ObjectId& id, Releases* to_release) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Uncache(const ObjectId& id, Releases* to_release) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // nullopt when the put must go over the socket.
  std::optional<absl::Status> PutThroughIndex(const ObjectId& id, const void* data, size_t size,
                                              const void* metadata, size_t metadata_size, bool pin);
  void GetThroughIndex(const std::vector<ObjectId>& ids, std::vector<std::optional<ObjectBuffer>>* out)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Call(MessageType type, const google::protobuf::MessageLite& request, MessageType reply_type,
                    google::protobuf::MessageLite* reply) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status Write(MessageType type, const google::protobuf::MessageLite& request)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status PutInline(const std::vector<PutItem>& items, bool pin, std::vector<const PutItem*>* large);
  absl::Status SimpleCall(MessageType type, const google::protobuf::MessageLite& request);
  absl::Status FetchMissing(const std::vector<ObjectId>& ids, int64_t timeout_ms,
                            std::vector<std::optional<ObjectBuffer>>* out) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void PopulateForWrite(uint64_t offset, uint64_t size) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const int fd_;
  uint8_t* const base_;
  const uint64_t arena_size_;
  absl::Mutex mu_;
  const std::unique_ptr<IndexClient> index_ ABSL_PT_GUARDED_BY(mu_);  // Null: socket only.
  FrameBuffer input_ ABSL_GUARDED_BY(mu_);
  std::string output_ ABSL_GUARDED_BY(mu_);  // Frames not yet written.
  absl::flat_hash_map<ObjectId, Held> held_ ABSL_GUARDED_BY(mu_);
  std::list<ObjectId> release_cache_ ABSL_GUARDED_BY(mu_);  // Oldest first.
  uint64_t release_cache_bytes_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<bool> populated_chunks_ ABSL_GUARDED_BY(mu_);
};

struct ObjectNotification {
  ObjectId id;
  bool deleted = false;  // false: sealed.
  uint64_t data_size = 0;
  uint64_t metadata_size = 0;
};

// A separate connection on which the store reports every seal and every
// deletion or eviction, in order. Threading: one reader at a time.
class PlasmaSubscription {
 public:
  static absl::StatusOr<std::unique_ptr<PlasmaSubscription>> Connect(const std::string& socket_path);
  ~PlasmaSubscription();

  // Blocks up to `timeout_ms` (< 0: forever) for the next notification;
  // nullopt at the timeout.
  absl::StatusOr<std::optional<ObjectNotification>> ReadNotification(int64_t timeout_ms);
  int fd() const { return fd_; }  // For poll()-style integration.

 private:
  explicit PlasmaSubscription(int fd) : fd_(fd) {}
  const int fd_;
  FrameBuffer input_;
};

// Connects as the node's raylet (OWNER_REQUEST): the store exits when this
// connection closes, and the raylet, which keeps it open for its life, reads
// EOF on it when the store dies. Returns the socket; the caller closes it.
absl::StatusOr<int> ConnectAsNodeOwner(const std::string& socket_path);

// Maps a store error code to an absl::Status (OK for OK).
absl::Status ToStatus(ErrorCode code, const std::string& message);

}  // namespace lumen::plasma
