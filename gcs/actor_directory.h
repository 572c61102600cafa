// gcs/actor_directory.h
//
// ActorDirectory is the GCS's actor table: every actor's rpc::ActorInfo and
// where its life stands (ActorEntry), indexed by id, by (namespace, name)
// for live actors, by job for live actors, and by the node holding (or
// asked for) its worker. It persists every change (table ACTOR, actor id
// hex -> ActorInfo), bumps `version` on each, and serves the GetActorInfo
// long poll: a waiter is answered when its actor's version passes the one
// it saw. It decides nothing: ActorManager drives the life cycle.
//
// Bounds: at most `max_dead` DEAD actors are kept (memory and store); the
// oldest deaths are dropped first. Every operation but Load and List costs
// O(1) (plus the waiters it answers): hash maps, no scans.
// Threading: the GCS loop only; long-poll replies are called inline.
// Failure: Add returns the store's error and changes nothing; Commit applies
// the change even when the store fails (the actor's state moved on either
// way) and logs the error.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "gcs/store/store_client.h"
#include "proto/common.pb.h"

namespace lumen::gcs {

// One actor. `info` is what callers see; the rest is the manager's.
struct ActorEntry {
  enum class Phase {
    kWaiting,   // PENDING/RESTARTING, no node picked (queued for placement).
    kLeasing,   // A lease request to `node_id` is in flight.
    kCreating,  // Worker leased on `node_id`; the creation task is running.
    kAlive,
    kDead,
  };
  rpc::ActorInfo info;
  Phase phase = Phase::kWaiting;
  std::string node_id;  // kLeasing .. kAlive: the node asked or holding the worker.
  // Bumped whenever replies still in flight for this actor become stale.
  int64_t attempt = 0;
  // The lease request to `request_node` that is not answered yet; a lost
  // one is repeated with the same id, so the raylet answers it with the
  // worker it may have granted already. 0: none.
  int64_t request_id = 0;
  std::string request_node;
  bool queued = false;              // In the manager's placement queue.
  bool reported_unplaceable = false;  // "cannot be placed" logged once.
  bool counted_dead = false;          // In the directory's dead list.
};

class ActorDirectory {
 public:
  // Null: the actor is not (or no longer) known.
  using PollReply = std::function<void(const rpc::ActorInfo*)>;

  // `store` is not owned and must outlive the directory.
  ActorDirectory(StoreClient& store, size_t max_dead) : store_(store), max_dead_(max_dead) {}

  // Reads the ACTOR table (GCS start), keeping the newest `max_dead` dead
  // actors (older ones are deleted from the store). Entries come back in
  // kWaiting (PENDING, RESTARTING), kAlive or kDead; the caller indexes
  // nodes and places waiting actors.
  absl::Status Load();

  // Records a new actor (state PENDING, version 1) and persists it.
  // ALREADY_EXISTS when a live actor holds its name in its namespace.
  absl::StatusOr<ActorEntry*> Add(rpc::ActorInfo info);
  // The actor changed: bumps its version, persists it, updates the name and
  // job indexes (a DEAD actor frees its name), answers its long polls, and
  // drops the oldest dead actors beyond the cap.
  void Commit(ActorEntry& entry);
  // Moves the actor to `node_id` in the node index ("" removes it).
  void SetNode(ActorEntry& entry, const std::string& node_id);

  ActorEntry* Find(const std::string& actor_id);
  // The live (non-DEAD) actor named `name` in `ray_namespace`.
  ActorEntry* FindByName(const std::string& ray_namespace, const std::string& name);
  // Ids of the live actors of `job_id` / of the actors on `node_id`.
  std::vector<std::string> ActorsOfJob(const std::string& job_id) const;
  std::vector<std::string> ActorsOnNode(const std::string& node_id) const;
  // Every actor, in no particular order (O(actors): ListActors and reload).
  std::vector<ActorEntry*> All();
  size_t size() const { return actors_.size(); }

  // Long poll on an actor the caller knows: answers now (returns 0) when
  // the actor is unknown, DEAD, already past `after_version`, or the
  // directory is closed; otherwise waits and returns the waiter's id for
  // Expire.
  int64_t Poll(const std::string& actor_id, int64_t after_version, PollReply reply);
  // The waiter's deadline passed: answers it with the current info (a no-op
  // when it was answered already).
  void Expire(int64_t waiter_id);
  // Shutdown: answers every waiter now and every later poll at once.
  void Close();
  size_t num_waiters() const { return waiters_.size(); }

 private:
  struct Waiter {
    std::string actor_id;
    int64_t after_version;
    PollReply reply;
  };
  using NameKey = std::pair<std::string, std::string>;  // (namespace, name).

  absl::Status Persist(const rpc::ActorInfo& info);
  void Index(const ActorEntry& entry);
  void Unindex(const ActorEntry& entry);
  void AnswerWaiters(const ActorEntry& entry);
  void Drop(const std::string& actor_id);
  void TrimDead();

  StoreClient& store_;
  const size_t max_dead_;
  bool closed_ = false;
  int64_t next_waiter_id_ = 1;
  // By binary actor id; node map: entry pointers stay valid until Drop.
  absl::node_hash_map<std::string, ActorEntry> actors_;
  absl::flat_hash_map<NameKey, std::string> names_;      // Live named actors.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> by_job_;   // Live.
  absl::flat_hash_map<std::string, absl::flat_hash_set<std::string>> by_node_;  // SetNode.
  std::deque<std::string> dead_order_;  // Dead actor ids, oldest death first.
  absl::flat_hash_map<int64_t, Waiter> waiters_;
  absl::flat_hash_map<std::string, absl::flat_hash_set<int64_t>> waiters_by_actor_;
};

}  // namespace lumen::gcs
