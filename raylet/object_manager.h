// raylet/object_manager.h
//
// ObjectManager is the raylet's side of the node's object store: it carries
// out what the store orders on the raylet's owner connection (docs/plasma.md,
// "Owners and spilling") and reports the store's usage.
//   SPILL_ORDER    write each object to <spill dir>/<id hex> (a 16-byte
//                  header with the data and metadata sizes, then the bytes),
//                  then ReportSpill: the store frees the memory, or says the
//                  object stayed (then the file goes);
//   RESTORE_ORDER  read the file back into a restore Create, Seal, remove
//                  the file; the waiting Gets complete at the seal;
//   SPILL_FREED    a spilled object was deleted: remove its file.
// Pinning primaries and releasing them when their owner exits happen in the
// store itself (it sees every process's connection close, SIGKILL included).
//
// Threading: HandleOrder and Stats run on the raylet loop and never block on
// disk: spills (and file removals) run on one thread, restores on another,
// each with its own plasma client, so a restore waiting for room is served
// by a spill. Failure: a write that fails (disk full) is reported to the
// store, which then answers the Create that needed room with
// "object store full: ... spilling to disk failed: <reason>".
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "common/id.h"
#include "proto/raylet.pb.h"

namespace lumen::plasma {
class PlasmaClient;
}

namespace lumen::raylet {

struct ObjectManagerOptions {
  std::string plasma_socket;
  std::string spill_dir;  // Created (0700) at the first spill.
};

class ObjectManager {
 public:
  enum class Order { kSpill, kRestore, kFreed };

  explicit ObjectManager(ObjectManagerOptions options);
  ~ObjectManager();  // Finishes the file operation under way, drops the rest.

  // An order from the store; queued for the file threads.
  void HandleOrder(Order order, const std::vector<ObjectId>& ids);
  // The same from a frame on the owner connection (plasma::MessageType);
  // other types are ignored.
  void HandleStoreFrame(int type, const std::vector<ObjectId>& ids);
  // Fills the object store fields of `reply` (one round trip to the store).
  void FillStats(rpc::GetNodeStatsReply* reply);

  std::string SpillPath(const ObjectId& id) const;

 private:
  struct Queue {
    std::mutex mu;
    std::condition_variable cv;
    std::deque<std::pair<Order, ObjectId>> items;
    std::thread thread;
  };
  void Run(Queue& queue);
  // The file threads' steps; each thread uses its own client.
  void Spill(plasma::PlasmaClient& client, const ObjectId& id);
  void Restore(plasma::PlasmaClient& client, const ObjectId& id);
  absl::Status WriteSpillFile(const ObjectId& id, const uint8_t* data, uint64_t data_size,
                              const uint8_t* metadata, uint64_t metadata_size);

  ObjectManagerOptions options_;
  bool stopping_ = false;  // Guarded by each queue's mu (set under both).
  Queue spills_;
  Queue restores_;
  std::unique_ptr<plasma::PlasmaClient> stats_client_;  // Loop only.
};

}  // namespace lumen::raylet
