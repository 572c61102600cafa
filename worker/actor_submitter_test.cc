// ActorSubmitter driven by hand (fake GCS directory and fake actor
// workers, the loop polled on the test's thread), and ActorCallOrder.
#include <catch2/catch.hpp>

#include <deque>

#include "worker/actor_call_order.h"
#include "worker/actor_submitter.h"
#include "worker/fake_submitter_io.h"

using namespace lumen;
using namespace lumen::worker;

namespace {

class FakeDirectory : public ActorDirectory {
 public:
  struct Ask {
    std::string actor_id;
    int64_t after_version;
    InfoCallback callback;
  };
  void GetActorInfo(const std::string& actor_id, int64_t after_version, int64_t,
                    InfoCallback callback) override {
    asks.push_back({actor_id, after_version, std::move(callback)});
  }
  void Answer(const rpc::ActorInfo& info) {
    Ask ask = std::move(asks.front());
    asks.pop_front();
    rpc::GetActorInfoReply reply;
    reply.set_found(true);
    *reply.mutable_actor() = info;
    ask.callback(absl::OkStatus(), std::move(reply));
  }
  void Fail() {
    Ask ask = std::move(asks.front());
    asks.pop_front();
    ask.callback(absl::UnavailableError("GCS down"), rpc::GetActorInfoReply());
  }
  std::deque<Ask> asks;
};

struct Fixture {
  EventLoop loop;
  FakeDirectory directory;
  FakeTaskPusher pusher;
  ActorId actor = ActorId::Of(JobId::FromInt(1));
  std::vector<std::string> replied;  // Call names, in reply order.
  std::vector<std::pair<std::string, rpc::ErrorInfo>> failed;
  ActorSubmitter submitter{
      loop, directory, pusher,
      ActorSubmitter::Callbacks{
          [this](const rpc::TaskSpec& s, rpc::PushTaskReply&&, const rpc::PushTasksReply&) {
            replied.push_back(s.name());
          },
          [this](const rpc::TaskSpec& s, const rpc::ErrorInfo& e) { failed.emplace_back(s.name(), e); }},
      ActorSubmitter::Options{WorkerId::FromRandom(), rpc::Address(), 1000, 0}};

  void Poll() {
    while (loop.io_context().poll() > 0) {
    }
  }
  rpc::TaskSpec Spec(const std::string& name) {
    rpc::TaskSpec spec;
    spec.set_task_id(TaskId::ForNormalTask(JobId::FromInt(1)).Binary());
    spec.set_name(name);
    spec.set_function_name("Counter::Add");
    spec.set_actor_id(actor.Binary());
    return spec;
  }
  // Submits and resolves at once.
  void Call(const std::string& name) {
    rpc::TaskSpec spec = Spec(name);
    submitter.Submit(spec);
    submitter.OnResolved(std::move(spec));
    Poll();
  }
  rpc::ActorInfo Info(rpc::ActorInfo::State state, int64_t version, const std::string& worker,
                      int max_task_retries = 0) {
    rpc::ActorInfo info;
    info.set_actor_id(actor.Binary());
    info.set_state(state);
    info.set_version(version);
    info.set_class_name("CreateCounter");
    info.set_max_task_retries(max_task_retries);
    info.mutable_address()->set_ip("127.0.0.1");
    info.mutable_address()->set_port(7000);
    info.mutable_address()->set_worker_id(worker);
    if (state == rpc::ActorInfo::DEAD) info.set_death_cause("killed by ray::Kill");
    return info;
  }
  void AnswerInfo(const rpc::ActorInfo& info) {
    directory.Answer(info);
    Poll();
  }
  std::vector<int64_t> Seqs(const rpc::PushTasksRequest& request) {
    std::vector<int64_t> out;
    for (const auto& t : request.tasks()) out.push_back(t.spec().sequence_number());
    return out;
  }
};

}  // namespace

TEST_CASE("ActorCallOrder releases each caller's pushes in sequence order") {
  ActorCallOrder<std::string> order;
  std::vector<std::string> ready, stale;
  order.Admit("a", 1, 3, 2, "a3-4", &ready, &stale);  // Arrives before 1-2.
  CHECK(ready.empty());
  order.Admit("b", 1, 1, 1, "b1", &ready, &stale);  // Another caller is not held up.
  CHECK(ready == std::vector<std::string>{"b1"});
  order.Admit("a", 1, 1, 2, "a1-2", &ready, &stale);
  CHECK(ready == std::vector<std::string>{"b1", "a1-2", "a3-4"});
  order.Admit("a", 1, 2, 1, "a2-again", &ready, &stale);  // A resent call.
  CHECK(stale == std::vector<std::string>{"a2-again"});
  CHECK(order.NumWaiting() == 0);
}

TEST_CASE("ActorCallOrder starts a new caller at its floor and skips given-up calls") {
  ActorCallOrder<std::string> order;
  std::vector<std::string> ready, stale;
  // A restarted actor meets a caller whose calls 1..4 are finished.
  order.Admit("a", 5, 6, 1, "a6", &ready, &stale);
  CHECK(ready.empty());  // 5 is still to come.
  order.Admit("a", 5, 5, 1, "a5", &ready, &stale);
  CHECK(ready == std::vector<std::string>{"a5", "a6"});
  // The caller gave up on 7 (its arguments failed): the floor moves past it.
  order.Admit("a", 8, 8, 1, "a8", &ready, &stale);
  CHECK(ready.back() == "a8");
  CHECK(stale.empty());
}

TEST_CASE("ActorSubmitter asks the GCS, then pushes calls in order with sequence numbers") {
  Fixture f;
  f.Call("c1");
  f.Call("c2");
  REQUIRE(f.directory.asks.size() == 1);  // One lookup for both calls.
  CHECK(f.directory.asks[0].after_version == 0);
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 2, "w1"));
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.Seqs(f.pusher.pushes[0].request) == std::vector<int64_t>{1, 2});
  CHECK(f.pusher.pushes[0].request.tasks(0).spec().caller_floor() == 1);
  f.Call("c3");  // Sent at once on the open connection.
  REQUIRE(f.pusher.pushes.size() == 2);
  CHECK(f.Seqs(f.pusher.pushes[1].request) == std::vector<int64_t>{3});
  CHECK(f.pusher.pushes[1].request.tasks(0).spec().caller_floor() == 1);
  f.pusher.Reply("x");
  f.pusher.Reply("y");
  f.Poll();
  CHECK(f.replied == std::vector<std::string>{"c1", "c2", "c3"});
  CHECK(f.submitter.NumPending() == 0);
  CHECK(f.directory.asks.empty());  // No standing poll while all is well.
}

TEST_CASE("Calls resolved in one turn of the loop leave in one push") {
  Fixture f;
  f.Call("c1");
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  REQUIRE(f.pusher.pushes.size() == 1);
  for (const char* name : {"c2", "c3", "c4"}) {  // A burst, drained together.
    rpc::TaskSpec spec = f.Spec(name);
    f.submitter.Submit(spec);
    f.submitter.OnResolved(std::move(spec));
  }
  f.Poll();
  REQUIRE(f.pusher.pushes.size() == 2);
  CHECK(f.Seqs(f.pusher.pushes[1].request) == std::vector<int64_t>{2, 3, 4});
}

TEST_CASE("A call resolved on the submitting thread goes out at once when connected") {
  Fixture f;
  f.Call("c1");
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  REQUIRE(f.pusher.pushes.size() == 1);
  f.pusher.Reply("x");  // Nothing in flight now.
  rpc::TaskSpec spec = f.Spec("c2");
  f.submitter.Submit(spec);
  f.submitter.OnResolved(std::move(spec), nullptr, /*send_now=*/true);
  // No turn of the loop needed.
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.Seqs(f.pusher.pushes[0].request) == std::vector<int64_t>{2});
  f.pusher.Reply("y");
  CHECK(f.replied == std::vector<std::string>{"c1", "c2"});
  CHECK(f.submitter.NumPending() == 0);  // Bookkeeping done on the reply's thread.

  // With a push on its way, the next calls wait for the loop's turn and go
  // together.
  for (const char* name : {"c3", "c4", "c5"}) {
    rpc::TaskSpec next = f.Spec(name);
    f.submitter.Submit(next);
    f.submitter.OnResolved(std::move(next), nullptr, /*send_now=*/true);
  }
  REQUIRE(f.pusher.pushes.size() == 1);  // c3 went at once ...
  f.Poll();
  REQUIRE(f.pusher.pushes.size() == 2);  // ... c4 and c5 together.
  CHECK(f.Seqs(f.pusher.pushes[1].request) == std::vector<int64_t>{4, 5});
}

TEST_CASE("ActorSubmitter holds later calls behind one whose arguments are unresolved") {
  Fixture f;
  rpc::TaskSpec first = f.Spec("c1");
  f.submitter.Submit(first);
  f.Call("c2");
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  CHECK(f.pusher.pushes.empty());
  f.submitter.OnResolved(std::move(first));
  f.Poll();
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.Seqs(f.pusher.pushes[0].request) == std::vector<int64_t>{1, 2});
}

TEST_CASE("ActorSubmitter fails a call whose argument failed, and the rest go on") {
  Fixture f;
  rpc::TaskSpec first = f.Spec("c1");
  f.submitter.Submit(first);
  f.Call("c2");
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  rpc::ErrorInfo error;
  error.set_type(rpc::ErrorInfo::TASK_EXCEPTION);
  f.submitter.OnResolved(std::move(first), &error);
  f.Poll();
  REQUIRE(f.failed.size() == 1);
  CHECK(f.failed[0].first == "c1");
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.Seqs(f.pusher.pushes[0].request) == std::vector<int64_t>{2});
  CHECK(f.pusher.pushes[0].request.tasks(0).spec().caller_floor() == 2);
}

TEST_CASE("ActorSubmitter waits while the actor is pending, then sends") {
  Fixture f;
  f.Call("c1");
  f.AnswerInfo(f.Info(rpc::ActorInfo::PENDING, 1, ""));
  CHECK(f.pusher.pushes.empty());
  REQUIRE(f.directory.asks.size() == 1);
  CHECK(f.directory.asks[0].after_version == 1);  // A long poll for the next change.
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 2, "w1"));
  REQUIRE(f.pusher.pushes.size() == 1);
}

TEST_CASE("Calls to a dead actor fail with ACTOR_DIED naming the cause, now and later") {
  Fixture f;
  f.Call("c1");
  f.AnswerInfo(f.Info(rpc::ActorInfo::DEAD, 3, ""));
  REQUIRE(f.failed.size() == 1);
  CHECK(f.failed[0].second.type() == rpc::ErrorInfo::ACTOR_DIED);
  CHECK_THAT(f.failed[0].second.message(), Catch::Contains("killed by ray::Kill"));
  f.Call("c2");  // Known dead: fails without asking again.
  CHECK(f.failed.size() == 2);
  CHECK(f.directory.asks.empty());
}

TEST_CASE("A broken connection to a dead actor fails the calls in flight") {
  Fixture f;
  f.Call("c1");
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  f.pusher.Fail();
  f.Poll();
  REQUIRE(f.directory.asks.size() == 1);
  CHECK(f.directory.asks[0].after_version == 0);  // What does the GCS know now?
  CHECK(f.failed.empty());  // Not before the GCS says what happened.
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));  // Not yet told of the death.
  REQUIRE(f.pusher.pushes.size() == 1);  // Sent again ...
  f.pusher.Fail();  // ... and the worker is really gone.
  f.Poll();
  REQUIRE(f.directory.asks.size() == 1);
  CHECK(f.directory.asks[0].after_version == 1);  // Now a long poll for the change.
  CHECK(f.failed.empty());
  f.AnswerInfo(f.Info(rpc::ActorInfo::DEAD, 2, ""));
  REQUIRE(f.failed.size() == 1);
  CHECK(f.failed[0].second.type() == rpc::ErrorInfo::ACTOR_DIED);
}

TEST_CASE("A restart fails calls in flight without retries, resends those with retries") {
  for (int retries : {0, 1}) {
    Fixture f;
    f.Call("c1");
    f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1", retries));
    f.pusher.Fail();
    f.Poll();
    f.AnswerInfo(f.Info(rpc::ActorInfo::RESTARTING, 2, "", retries));
    f.Call("c2");  // Submitted while restarting: waits.
    f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 3, "w2", retries));
    REQUIRE(f.pusher.pushes.size() == 1);
    if (retries == 0) {
      REQUIRE(f.failed.size() == 1);
      CHECK(f.failed[0].first == "c1");
      CHECK_THAT(f.failed[0].second.message(), Catch::Contains("died while running"));
      CHECK(f.Seqs(f.pusher.pushes[0].request) == std::vector<int64_t>{2});
    } else {
      CHECK(f.failed.empty());
      CHECK(f.Seqs(f.pusher.pushes[0].request) == std::vector<int64_t>{1, 2});
      CHECK(f.pusher.pushes[0].request.tasks(0).spec().attempt() == 1);
    }
    CHECK(f.pusher.pushes[0].worker.worker_id() == "w2");
  }
}

TEST_CASE("After this process kills an actor, calls fail at once and late answers are dropped") {
  Fixture f;
  f.Call("c1");
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  REQUIRE(f.pusher.pushes.size() == 1);  // c1 on its way.
  f.submitter.OnKilled(f.actor.Binary(), /*no_restart=*/true);
  REQUIRE(f.failed.size() == 1);
  CHECK(f.failed[0].first == "c1");
  CHECK_THAT(f.failed[0].second.message(), Catch::Contains("killed by ray::Kill"));
  f.pusher.Reply("late");  // The process answered before it died: not delivered twice.
  CHECK(f.replied.empty());
  f.Call("c2");  // A call after Kill never goes out.
  CHECK(f.pusher.pushes.empty());
  REQUIRE(f.failed.size() == 2);
  CHECK_THAT(f.failed[1].second.message(), Catch::Contains("killed by ray::Kill"));
  CHECK(f.directory.asks.empty());
}

TEST_CASE("A broken connection to an actor still alive resends the calls to it") {
  Fixture f;
  f.Call("c1");
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  f.pusher.Fail();
  f.Poll();
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));  // The long poll timed out.
  REQUIRE(f.pusher.pushes.size() == 1);
  CHECK(f.Seqs(f.pusher.pushes[0].request) == std::vector<int64_t>{1});
  CHECK(f.failed.empty());
}

TEST_CASE("An unreachable GCS is asked again; calls wait") {
  Fixture f;
  f.Call("c1");
  f.directory.Fail();
  f.Poll();  // retry_delay_ms is 0 here.
  REQUIRE(f.directory.asks.size() == 1);
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  CHECK(f.pusher.pushes.size() == 1);
  CHECK(f.failed.empty());
}

TEST_CASE("100,000 calls in flight to one actor: each push carries only the new calls") {
  Fixture f;
  f.Call("first");
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  for (int i = 0; i < 100000; ++i) f.Call("c");
  REQUIRE(f.pusher.pushes.size() == 100001);  // One push per call, none resent.
  CHECK(f.pusher.pushes.back().request.tasks_size() == 1);
  CHECK(f.pusher.pushes.back().request.tasks(0).spec().sequence_number() == 100001);
  CHECK(f.pusher.pushes.back().request.tasks(0).spec().caller_floor() == 1);
  while (!f.pusher.pushes.empty()) f.pusher.Reply("x");
  f.Poll();
  CHECK(f.submitter.NumPending() == 0);
}

TEST_CASE("100,000 calls to one actor keep per-call state bounded") {
  Fixture f;
  f.Call("first");
  f.AnswerInfo(f.Info(rpc::ActorInfo::ALIVE, 1, "w1"));
  f.pusher.Reply("x");
  f.Poll();
  for (int i = 0; i < 100000; ++i) {
    f.Call("c");
    f.pusher.Reply("x");
    f.Poll();
  }
  CHECK(f.replied.size() == 100001);
  CHECK(f.submitter.NumPending() == 0);
  CHECK(f.submitter.NumActors() == 1);
}
