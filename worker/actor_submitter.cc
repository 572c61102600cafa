#include "worker/actor_submitter.h"

#include <chrono>

#include "common/logging.h"

namespace lumen::worker {
namespace {

std::string StateName(rpc::ActorInfo::State state) {
  switch (state) {
    case rpc::ActorInfo::PENDING: return "PENDING";
    case rpc::ActorInfo::ALIVE: return "ALIVE";
    case rpc::ActorInfo::RESTARTING: return "RESTARTING";
    case rpc::ActorInfo::DEAD: return "DEAD";
    default: return "UNKNOWN";
  }
}

}  // namespace

void GcsActorDirectory::GetActorInfo(const std::string& actor_id, int64_t after_version,
                                     int64_t timeout_ms, InfoCallback callback) {
  rpc::GetActorInfoRequest request;
  request.set_actor_id(actor_id);
  request.set_after_version(after_version);
  request.set_timeout_ms(timeout_ms);
  // The deadline leaves the GCS time to answer at its own timeout.
  gcs_.Call(&rpc::GcsService::Stub::async::GetActorInfo, request, std::move(callback),
            timeout_ms + 10000);
}

ActorSubmitter::ActorSubmitter(EventLoop& loop, ActorDirectory& directory, TaskPusher& pusher,
                               Callbacks callbacks, Options options)
    : loop_(loop),
      directory_(directory),
      pusher_(pusher),
      callbacks_(std::move(callbacks)),
      options_(std::move(options)) {}

ActorSubmitter::Actor& ActorSubmitter::GetActor(const std::string& id) {
  auto& slot = actors_[id];
  if (!slot) {
    slot = std::make_unique<Actor>();
    slot->id = id;
  }
  return *slot;
}

size_t ActorSubmitter::NumActors() const {
  std::lock_guard<std::mutex> lock(mu_);
  return actors_.size();
}

size_t ActorSubmitter::NumPending() const {
  std::lock_guard<std::mutex> lock(mu_);
  size_t n = 0;
  for (const auto& [id, actor] : actors_) n += actor->calls.size();
  return n;
}

void ActorSubmitter::Run(Effects& fx) {
  for (const rpc::Address& address : fx.forget) pusher_.Forget(address);
  for (const Effects::Ask& ask : fx.polls) SendPoll(ask);
  for (const Effects::Dial& dial : fx.connects) SendConnect(dial);
  for (Effects::Push& push : fx.pushes) {
    std::shared_ptr<rpc::PushTasksRequest> request = push.request;
    std::string id = push.actor_id;
    uint64_t epoch = push.epoch;
    push.connection->Push(*request, [this, id, epoch, request](absl::Status status,
                                                                rpc::PushTasksReply&& reply) {
      if (status.ok() && reply.replies_size() != request->tasks_size()) {
        status = absl::InternalError("the actor answered " + std::to_string(reply.replies_size()) +
                                     " of " + std::to_string(request->tasks_size()) + " calls");
      }
      // Bookkeeping first: a synchronous caller woken by its result must
      // find nothing in flight, or its next call would wait for the loop.
      std::vector<bool> pending = OnPushDone(id, epoch, request, status);
      if (status.ok()) {
        for (int i = 0; i < request->tasks_size(); ++i) {
          if (!pending[i]) continue;
          callbacks_.on_reply(request->tasks(i).spec(), std::move(*reply.mutable_replies(i)), reply);
        }
      }
    });
  }
  for (auto& [spec, error] : fx.failures) callbacks_.on_failure(spec, error);
}

int64_t ActorSubmitter::Submit(rpc::TaskSpec& spec) {
  std::lock_guard<std::mutex> lock(mu_);
  Actor& actor = GetActor(spec.actor_id());
  int64_t seq = actor.next_seq++;
  spec.set_sequence_number(seq);
  spec.set_caller_id(options_.caller.Binary());
  actor.calls.emplace(seq, Call{});
  return seq;
}

void ActorSubmitter::OnResolved(rpc::TaskSpec&& spec, const rpc::ErrorInfo* error, bool send_now) {
  Effects fx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    auto it = actors_.find(spec.actor_id());
    if (it == actors_.end()) return;
    Actor& actor = *it->second;
    auto call = actor.calls.find(spec.sequence_number());
    if (call == actor.calls.end()) return;  // Already failed (the actor died).
    if (error) {
      actor.calls.erase(call);
      Fail(std::move(spec), *error, fx);
    } else {
      call->second.spec = std::move(spec);
      call->second.resolved = true;
    }
    if (send_now && actor.connection && !actor.polling && actor.pushes_in_flight == 0) {
      // The common case of a synchronous caller: straight out from here.
      SendReady(actor, fx);
    } else {
      QueuePump(actor);
    }
  }
  Run(fx);
}

// Calls resolved in one turn of the loop (a burst of Remote()s drained
// together) leave in one push: the pump runs after the turn.
void ActorSubmitter::QueuePump(Actor& actor) {
  if (actor.pump_queued) return;
  actor.pump_queued = true;
  dirty_.push_back(actor.id);
  if (!flush_posted_) {
    flush_posted_ = true;
    loop_.Post([this] { FlushDirty(); });
  }
}

void ActorSubmitter::FlushDirty() {
  Effects fx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    flush_posted_ = false;
    if (stopped_) return;
    std::vector<std::string> dirty;
    dirty.swap(dirty_);
    for (const std::string& id : dirty) {
      auto it = actors_.find(id);
      if (it == actors_.end()) continue;
      it->second->pump_queued = false;
      Pump(*it->second, fx);
    }
  }
  Run(fx);
}

void ActorSubmitter::OnKilled(const std::string& actor_id, bool no_restart) {
  Effects fx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    Actor& actor = GetActor(actor_id);
    if (!no_restart) {
      if (!actor.polling) Poll(actor, 0, fx);
    } else {
      actor.known = true;
      actor.info.set_actor_id(actor_id);
      actor.info.set_state(rpc::ActorInfo::DEAD);
      actor.info.set_death_cause("killed by ray::Kill");
      if (actor.connection) {
        fx.forget.push_back(actor.info.address());
        actor.connection.reset();
      }
      ++actor.epoch;  // Answers still coming from the process are not used.
      actor.pushes_in_flight = 0;
      for (auto& [seq, call] : actor.calls) call.sent = false;
      FailAll(actor, DeathError(actor), fx);
    }
  }
  Run(fx);
}

void ActorSubmitter::Stop() {
  std::lock_guard<std::mutex> lock(mu_);
  stopped_ = true;
}

void ActorSubmitter::Pump(Actor& actor, Effects& fx) {
  if (!actor.known) {
    if (!actor.polling) Poll(actor, 0, fx);
    return;
  }
  switch (actor.info.state()) {
    case rpc::ActorInfo::DEAD:
      FailAll(actor, DeathError(actor), fx);
      return;
    case rpc::ActorInfo::ALIVE:
      if (actor.connection) {
        SendReady(actor, fx);
      } else if (!actor.connecting && !actor.polling) {
        Connect(actor, fx);
      }
      return;
    default:  // PENDING, RESTARTING: wait for the GCS's next word.
      if (!actor.polling && !actor.calls.empty()) Poll(actor, actor.info.version(), fx);
      return;
  }
}

void ActorSubmitter::Poll(Actor& actor, int64_t after_version, Effects& fx) {
  actor.polling = true;
  fx.polls.push_back({actor.id, after_version});
}

void ActorSubmitter::SendPoll(const Effects::Ask& ask) {
  std::string id = ask.actor_id;
  int64_t after_version = ask.after_version;
  directory_.GetActorInfo(
      id, after_version, after_version > 0 ? options_.poll_timeout_ms : 0,
      [this, id, after_version](absl::Status status, rpc::GetActorInfoReply&& reply) {
        loop_.Post([this, id, after_version, status = std::move(status),
                    reply = std::move(reply)]() mutable {
          OnInfo(id, after_version, std::move(status), std::move(reply));
        });
      });
}

void ActorSubmitter::OnInfo(const std::string& id, int64_t asked_version, absl::Status status,
                            rpc::GetActorInfoReply&& reply) {
  Effects fx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = actors_.find(id);
    if (stopped_ || it == actors_.end()) return;
    Actor& actor = *it->second;
    actor.polling = false;
    if (!status.ok()) {
      // The GCS is unreachable or restarting: ask again shortly. Calls wait.
      VLOG(1) << "GetActorInfo: " << status;
      loop_.RunAfter(std::chrono::milliseconds(options_.retry_delay_ms), [this, id, asked_version] {
        Effects again_fx;
        {
          std::lock_guard<std::mutex> lock(mu_);
          auto again = actors_.find(id);
          if (!stopped_ && again != actors_.end() && !again->second->polling) {
            Poll(*again->second, asked_version, again_fx);
          }
        }
        Run(again_fx);
      });
      return;
    }
    if (!reply.found()) {
      reply.mutable_actor()->set_actor_id(id);
      reply.mutable_actor()->set_state(rpc::ActorInfo::DEAD);
      reply.mutable_actor()->set_death_cause(
          "the GCS does not know this actor (it was never created, or its record is gone)");
    }
    bool same_incarnation = reply.actor().state() == rpc::ActorInfo::ALIVE &&
                            reply.actor().address().worker_id() == actor.incarnation;
    actor.info = std::move(*reply.mutable_actor());
    actor.known = true;
    if (!actor.connection && !actor.connecting) {
      if (same_incarnation) {
        // The connection broke but the actor lives on: send the calls again
        // (the actor tells apart those it already ran).
        for (auto& [seq, call] : actor.calls) call.sent = false;
        actor.unsent_from = 0;
      } else {
        SettleSentCalls(actor,
                        "its worker process died (actor state now " +
                            StateName(actor.info.state()) + ")",
                        fx);
      }
    }
    Pump(actor, fx);
  }
  Run(fx);
}

void ActorSubmitter::Connect(Actor& actor, Effects& fx) {
  actor.connecting = true;
  fx.connects.push_back({actor.id, actor.epoch, actor.info.address()});
}

void ActorSubmitter::SendConnect(const Effects::Dial& dial) {
  std::string id = dial.actor_id;
  uint64_t epoch = dial.epoch;
  rpc::Address address = dial.address;
  pusher_.Connect(address, [this, id, epoch, address](std::shared_ptr<TaskPusher::Connection> c) {
    loop_.Post([this, id, epoch, address, c = std::move(c)]() mutable {
      Effects fx;
      {
        std::lock_guard<std::mutex> lock(mu_);
        auto it = actors_.find(id);
        if (stopped_ || it == actors_.end()) return;
        Actor& actor = *it->second;
        actor.connecting = false;
        if (epoch == actor.epoch && actor.info.address().worker_id() == address.worker_id()) {
          if (actor.incarnation != address.worker_id()) {
            SettleSentCalls(actor, "its worker process died", fx);
            actor.incarnation = address.worker_id();
          }
          actor.connection = std::move(c);
        }  // Else the actor moved meanwhile.
        Pump(actor, fx);
      }
      Run(fx);
    });
  });
}

void ActorSubmitter::SendReady(Actor& actor, Effects& fx) {
  auto request = std::make_shared<rpc::PushTasksRequest>();
  for (auto it = actor.calls.lower_bound(actor.unsent_from); it != actor.calls.end(); ++it) {
    Call& call = it->second;
    if (!call.resolved) break;  // Later calls wait for this one's arguments.
    actor.unsent_from = it->first + 1;
    if (call.sent) continue;
    *request->add_tasks()->mutable_spec() = call.spec;
    call.sent = true;
  }
  if (request->tasks_size() == 0) return;
  int64_t floor = actor.calls.begin()->first;
  for (auto& task : *request->mutable_tasks()) task.mutable_spec()->set_caller_floor(floor);
  *request->mutable_caller() = options_.caller_address;
  // Pushes from several threads may reach the actor out of order; its
  // ordering stage puts them back in sequence.
  ++actor.pushes_in_flight;
  fx.pushes.push_back({actor.connection, std::move(request), actor.id, actor.epoch});
}

std::vector<bool> ActorSubmitter::OnPushDone(const std::string& id, uint64_t epoch,
                                             const std::shared_ptr<rpc::PushTasksRequest>& request,
                                             const absl::Status& status) {
  std::vector<bool> pending(request->tasks_size(), false);
  Effects fx;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = actors_.find(id);
    if (stopped_ || it == actors_.end()) return pending;
    Actor& actor = *it->second;
    if (epoch == actor.epoch) --actor.pushes_in_flight;
    if (status.ok()) {
      actor.losses = 0;
      for (int i = 0; i < request->tasks_size(); ++i) {
        pending[i] = actor.calls.erase(request->tasks(i).spec().sequence_number()) > 0;
      }
      return pending;
    }
    if (epoch == actor.epoch) OnConnectionLost(actor, fx);
  }
  Run(fx);
  return pending;
}

void ActorSubmitter::OnConnectionLost(Actor& actor, Effects& fx) {
  VLOG(1) << "connection to actor " << ActorId::FromBinaryOrNil(actor.id).Hex() << " lost";
  fx.forget.push_back(actor.info.address());
  actor.connection.reset();
  ++actor.epoch;  // Answers to earlier pushes are not counted any more.
  actor.pushes_in_flight = 0;
  // The first break asks what the GCS knows now; a second one in a row
  // waits for a change (the actor's death or restart).
  if (!actor.polling) Poll(actor, actor.losses++ == 0 ? 0 : actor.info.version(), fx);
}

void ActorSubmitter::SettleSentCalls(Actor& actor, const std::string& why, Effects& fx) {
  int max_retries = actor.info.max_task_retries();
  for (auto it = actor.calls.begin(); it != actor.calls.end();) {
    Call& call = it->second;
    if (!call.sent) {
      ++it;
      continue;
    }
    call.sent = false;
    actor.unsent_from = 0;  // Sent again (or failed) from the start.
    if (max_retries < 0 || call.spec.attempt() < max_retries) {
      call.spec.set_attempt(call.spec.attempt() + 1);
      ++it;
      continue;
    }
    rpc::ErrorInfo error = DeathError(actor);
    if (actor.info.state() != rpc::ActorInfo::DEAD) {  // Dead: its cause says it all.
      error.set_message("the actor " + actor.info.class_name() + " (" +
                        ActorId::FromBinaryOrNil(actor.id).Hex() + ") died while running " +
                        call.spec.function_name() + ": " + why +
                        (max_retries == 0 ? "; calls are not retried (SetMaxTaskRetries)" : ""));
    }
    Fail(std::move(call.spec), error, fx);
    it = actor.calls.erase(it);
  }
}

void ActorSubmitter::FailAll(Actor& actor, const rpc::ErrorInfo& error, Effects& fx) {
  // Calls still resolving their arguments fail when OnResolved finds them
  // gone; their specs are not here yet, so fail those that are.
  for (auto it = actor.calls.begin(); it != actor.calls.end();) {
    if (!it->second.resolved) {
      ++it;
      continue;
    }
    Fail(std::move(it->second.spec), error, fx);
    it = actor.calls.erase(it);
  }
}

void ActorSubmitter::Fail(rpc::TaskSpec&& spec, const rpc::ErrorInfo& error, Effects& fx) {
  rpc::ErrorInfo e = error;
  e.set_function_name(spec.function_name());
  fx.failures.emplace_back(std::move(spec), std::move(e));
}

rpc::ErrorInfo ActorSubmitter::DeathError(const Actor& actor) const {
  rpc::ErrorInfo error;
  error.set_type(rpc::ErrorInfo::ACTOR_DIED);
  std::string name = actor.info.class_name().empty() ? "actor" : "actor " + actor.info.class_name();
  if (!actor.info.name().empty()) name += " '" + actor.info.name() + "'";
  error.set_message("The " + name + " (" + ActorId::FromBinaryOrNil(actor.id).Hex() +
                    ") is dead: " +
                    (actor.info.death_cause().empty() ? "no cause recorded"
                                                      : actor.info.death_cause()));
  error.set_pid(actor.info.pid());
  error.set_node_ip(actor.info.address().ip());
  return error;
}

}  // namespace lumen::worker
