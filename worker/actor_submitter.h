// worker/actor_submitter.h
//
// ActorSubmitter runs the caller's side of actor method calls: it numbers
// each actor's calls 1, 2, 3, ... in the order they were submitted, learns
// where the actor lives from the GCS (GetActorInfo, long-polled while the
// actor is pending or restarting), and pushes calls straight to the actor's
// worker over the task channel, every call queued so far in one push.
//
//   Submit ──► queue (by seq) ──► resolved prefix ──► push to the actor ──► reply
//                  │ actor not ALIVE / unknown: long poll the GCS ◄──────────┘ broken
//
// Order: the actor runs one caller's calls in sequence-number order,
// whatever connection they arrive on (worker/actor_call_order.h); a call
// whose arguments are still being resolved holds back the calls after it.
// Every push carries caller_floor, the lowest call still unfinished here,
// so a restarted actor knows where this caller's sequence stands.
//
// Failure: when the connection to the actor breaks, the caller asks the
// GCS at once (a break with the actor alive, e.g. a network fault, costs a
// reconnect, not a wait); a second break before any push comes back waits
// for the GCS's next word on the actor (a long poll: the raylet reports a
// dead worker within moments). Then: DEAD fails them and every
// later call with RayActorException carrying the death cause; a new
// incarnation (RESTARTING, or ALIVE elsewhere) fails them too unless they
// have retries left (SetMaxTaskRetries), which resend them; the same
// incarnation still ALIVE after the long poll's timeout means the
// connection broke but not the actor: the calls are sent again (the
// actor answers a call it already ran with an error, since its result is
// gone). Calls never hang on a dead actor.
//
// Threading: Submit, OnResolved and Refresh may be called from any thread
// (one mutex guards the state): a call without ObjectRef arguments to an
// actor that is alive and connected is pushed from the calling thread,
// without a hop through the loop. The GCS's answers and connections are
// handled on the owner's EventLoop; replies on the thread that received
// them. Callbacks, pushes, GCS questions, connections and dropped
// connections run outside the mutex (a push may block on a full socket
// while the reply reader needs it; an RPC client's callback may run under
// its own lock and call back in here).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "common/event_loop.h"
#include "common/id.h"
#include "common/rpc/client.h"
#include "proto/gcs.grpc.pb.h"
#include "proto/worker.pb.h"
#include "worker/task_submitter_io.h"

namespace lumen::worker {

// The GCS calls ActorSubmitter makes (a seam for unit tests).
class ActorDirectory {
 public:
  using InfoCallback = std::function<void(absl::Status, rpc::GetActorInfoReply&&)>;
  virtual ~ActorDirectory() = default;
  // Long poll: answers once the actor's version exceeds after_version (or
  // at once when after_version is 0), or after timeout_ms with the current
  // info. The callback runs on the owner's loop.
  virtual void GetActorInfo(const std::string& actor_id, int64_t after_version, int64_t timeout_ms,
                            InfoCallback callback) = 0;
};

class GcsActorDirectory : public ActorDirectory {
 public:
  explicit GcsActorDirectory(rpc::RpcClient<rpc::GcsService>& gcs) : gcs_(gcs) {}
  void GetActorInfo(const std::string& actor_id, int64_t after_version, int64_t timeout_ms,
                    InfoCallback callback) override;

 private:
  rpc::RpcClient<rpc::GcsService>& gcs_;
};

class ActorSubmitter {
 public:
  struct Callbacks {
    // The actor ran the call (the reply may carry the call's own error).
    // `batch` is the whole reply of the push (who ran it; its `replies`
    // may have been moved from).
    std::function<void(const rpc::TaskSpec&, rpc::PushTaskReply&&, const rpc::PushTasksReply& batch)>
        on_reply;
    // The call cannot run: the actor is dead, or died while running it.
    std::function<void(const rpc::TaskSpec&, const rpc::ErrorInfo&)> on_failure;
  };
  struct Options {
    WorkerId caller;
    rpc::Address caller_address;  // Owner of the calls' returns.
    int64_t poll_timeout_ms = 10000;
    int64_t retry_delay_ms = 200;  // After a failed GCS call.
  };

  // `loop`, `directory` and `pusher` are not owned and must outlive this.
  ActorSubmitter(EventLoop& loop, ActorDirectory& directory, TaskPusher& pusher,
                 Callbacks callbacks, Options options);

  // Numbers the call (sequence_number, caller_id) and queues it; it is not
  // sent before OnResolved hands it back with its arguments resolved.
  // Returns the sequence number.
  int64_t Submit(rpc::TaskSpec& spec);
  // The call's ObjectRef arguments are resolved (`spec` as it goes out),
  // or could not be (`error` set: the call fails with it). With `send_now`
  // (a call resolved on the submitting thread), the call is pushed at once
  // if nothing else is on its way to the actor (a synchronous caller pays
  // no hop through the loop); otherwise the calls resolved by the next turn
  // of the loop leave together in one push (a burst costs few pushes).
  void OnResolved(rpc::TaskSpec&& spec, const rpc::ErrorInfo* error = nullptr,
                  bool send_now = false);
  // This process killed the actor (the GCS accepted the kill). With
  // `no_restart` it is dead from now on here too: unfinished calls fail
  // with "killed by ray::Kill" and so do later ones, without waiting for the
  // process to go (a call sent after Kill never runs). Otherwise the GCS is
  // asked for the restart at once.
  void OnKilled(const std::string& actor_id, bool no_restart);
  // From now on nothing is sent and no answer is acted on (teardown: the
  // connections' closing may still deliver failures).
  void Stop();

  // For tests and leak checks.
  size_t NumActors() const;
  size_t NumPending() const;

 private:
  struct Call {
    rpc::TaskSpec spec;
    bool resolved = false;
    bool sent = false;
    int retries_left = 0;  // -1: without limit.
  };
  struct Actor {
    std::string id;
    rpc::ActorInfo info;
    bool known = false;        // `info` came from the GCS.
    bool polling = false;      // A GetActorInfo is outstanding.
    int64_t next_seq = 1;
    std::map<int64_t, Call> calls;  // Unfinished calls by sequence number.
    // Calls below this were all sent: a push starts looking here, so sending
    // costs O(calls sent), however many are in flight.
    int64_t unsent_from = 0;
    std::shared_ptr<TaskPusher::Connection> connection;
    bool connecting = false;
    uint64_t epoch = 0;        // Bumped when a connection is dropped.
    std::string incarnation;   // Worker id the calls in flight went to.
    bool pump_queued = false;  // In dirty_.
    int pushes_in_flight = 0;  // On the current connection, unanswered.
    int losses = 0;            // Connections lost since a push last came back.
  };

  // What a step decided to do once the mutex is released.
  struct Effects {
    struct Push {
      std::shared_ptr<TaskPusher::Connection> connection;
      std::shared_ptr<rpc::PushTasksRequest> request;
      std::string actor_id;
      uint64_t epoch;
    };
    struct Ask {
      std::string actor_id;
      int64_t after_version;
    };
    struct Dial {
      std::string actor_id;
      uint64_t epoch;
      rpc::Address address;
    };
    std::vector<rpc::Address> forget;
    std::vector<Ask> polls;
    std::vector<Dial> connects;
    std::vector<Push> pushes;
    std::vector<std::pair<rpc::TaskSpec, rpc::ErrorInfo>> failures;
  };
  void Run(Effects& fx);

  // Everything below runs with mu_ held.
  Actor& GetActor(const std::string& id);
  void FlushDirty();
  void QueuePump(Actor& actor);
  void Pump(Actor& actor, Effects& fx);
  void Poll(Actor& actor, int64_t after_version, Effects& fx);
  void OnInfo(const std::string& id, int64_t asked_version, absl::Status status,
              rpc::GetActorInfoReply&& reply);
  void Connect(Actor& actor, Effects& fx);
  // Outside the mutex: the GCS question and the connection of Effects.
  void SendPoll(const Effects::Ask& ask);
  void SendConnect(const Effects::Dial& dial);
  void SendReady(Actor& actor, Effects& fx);
  // Returns, per task of the push, whether its call was still unfinished
  // here (a call failed meanwhile, e.g. by a Kill, gets no second answer).
  std::vector<bool> OnPushDone(const std::string& id, uint64_t epoch,
                               const std::shared_ptr<rpc::PushTasksRequest>& request,
                               const absl::Status& status);
  void OnConnectionLost(Actor& actor, Effects& fx);
  // The calls sent to an incarnation that is gone: retried or failed.
  void SettleSentCalls(Actor& actor, const std::string& why, Effects& fx);
  void FailAll(Actor& actor, const rpc::ErrorInfo& error, Effects& fx);
  void Fail(rpc::TaskSpec&& spec, const rpc::ErrorInfo& error, Effects& fx);
  rpc::ErrorInfo DeathError(const Actor& actor) const;

  EventLoop& loop_;
  ActorDirectory& directory_;
  // An actor's entry stays for the process's life (a dead actor's answers
  // later calls at once): one per actor this process has called.
  TaskPusher& pusher_;
  Callbacks callbacks_;
  Options options_;
  mutable std::mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<Actor>> actors_;
  std::vector<std::string> dirty_;  // Actors with calls resolved this turn.
  bool flush_posted_ = false;
  bool stopped_ = false;
};

}  // namespace lumen::worker
