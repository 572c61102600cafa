// DependencyResolver driven by hand: a real MemoryStore, the loop polled on
// the test's thread, no sleeps.
#include "worker/dependency_resolver.h"

#include <catch2/catch.hpp>

#include "common/id.h"

using namespace lumen;
using namespace lumen::worker;

namespace {

struct Fixture {
  EventLoop loop;
  MemoryStore store;
  WorkerId self = WorkerId::FromRandom();
  std::vector<std::pair<rpc::TaskSpec, bool>> resolved;  // Spec, had_refs.
  std::vector<std::pair<rpc::TaskSpec, rpc::ErrorInfo>> failed;
  DependencyResolver resolver{
      loop, store, self.Binary(),
      DependencyResolver::Callbacks{
          [this](rpc::TaskSpec&& s, bool had_refs) { resolved.emplace_back(std::move(s), had_refs); },
          [this](rpc::TaskSpec&& s, const rpc::ErrorInfo& e) { failed.emplace_back(std::move(s), e); }}};

  void Poll() {
    while (loop.io_context().poll() > 0) {
    }
  }
  static ObjectId NewId() { return ObjectId::FromIndex(TaskId::ForNormalTask(JobId::FromInt(1)), 1); }
  static void AddRef(rpc::TaskSpec& spec, const ObjectId& id, const std::string& owner) {
    rpc::TaskArg* arg = spec.add_args();
    arg->set_is_ref(true);
    arg->mutable_ref()->set_object_id(id.Binary());
    arg->mutable_ref()->mutable_owner()->set_worker_id(owner);
  }
  static void AddValue(rpc::TaskSpec& spec, const std::string& value) {
    spec.add_args()->set_inline_value(value);
  }
  void PutInline(const ObjectId& id, const std::string& data) {
    auto object = std::make_shared<StoredObject>();
    object->data = data;
    store.Put(id, std::move(object));
  }
  void PutInPlasma(const ObjectId& id) {
    auto object = std::make_shared<StoredObject>();
    object->in_plasma = true;
    object->node_id = "node-b";
    store.Put(id, std::move(object));
  }
  void PutError(const ObjectId& id, rpc::ErrorInfo::Type type, const std::string& message) {
    auto object = std::make_shared<StoredObject>();
    object->error.set_type(type);
    object->error.set_message(message);
    store.Put(id, std::move(object));
  }
};

}  // namespace

TEST_CASE("ready arguments: small values are inlined, plasma ones and others' refs stay refs") {
  Fixture f;
  ObjectId small = Fixture::NewId(), large = Fixture::NewId(), foreign = Fixture::NewId();
  f.PutInline(small, "small-bytes");
  f.PutInPlasma(large);
  rpc::TaskSpec spec;
  Fixture::AddValue(spec, "plain");
  Fixture::AddRef(spec, small, f.self.Binary());
  Fixture::AddRef(spec, large, f.self.Binary());
  Fixture::AddRef(spec, foreign, WorkerId::FromRandom().Binary());
  f.resolver.Resolve(std::move(spec));
  // Everything was ready: resolved at once, without a trip through the loop.
  REQUIRE(f.resolved.size() == 1);
  const rpc::TaskSpec& out = f.resolved[0].first;
  CHECK(f.resolved[0].second);
  CHECK(out.args(0).inline_value() == "plain");
  CHECK_FALSE(out.args(1).is_ref());
  CHECK(out.args(1).inline_value() == "small-bytes");
  // The id stays, so the submission's reference can be dropped later.
  CHECK(out.args(1).ref().object_id() == small.Binary());
  CHECK(out.args(1).ref().owner().worker_id().empty());
  CHECK(out.args(2).is_ref());
  CHECK(out.args(2).ref().object_id() == large.Binary());
  CHECK(out.args(3).is_ref());
  CHECK(out.args(3).ref().object_id() == foreign.Binary());
  CHECK(f.failed.empty());
  CHECK(f.store.NumCallbacks() == 0);
}

TEST_CASE("a task without ObjectRef arguments resolves at once and says it had none") {
  Fixture f;
  rpc::TaskSpec spec;
  Fixture::AddValue(spec, "1");
  f.resolver.Resolve(std::move(spec));
  REQUIRE(f.resolved.size() == 1);
  CHECK_FALSE(f.resolved[0].second);
}

TEST_CASE("a task waits for each missing owned argument and resolves after the last is stored") {
  Fixture f;
  ObjectId a = Fixture::NewId(), b = Fixture::NewId();
  rpc::TaskSpec spec;
  Fixture::AddRef(spec, a, f.self.Binary());
  Fixture::AddRef(spec, b, f.self.Binary());
  f.resolver.Resolve(std::move(spec));
  f.Poll();
  CHECK(f.resolved.empty());
  CHECK(f.store.NumCallbacks() == 1);  // One argument at a time.
  f.PutInline(b, "B");  // Stored first, but the task waits on `a`.
  f.Poll();
  CHECK(f.resolved.empty());
  f.PutInline(a, "A");
  CHECK(f.resolved.empty());  // The wake-up goes through the loop.
  f.Poll();
  REQUIRE(f.resolved.size() == 1);
  CHECK(f.resolved[0].first.args(0).inline_value() == "A");
  CHECK(f.resolved[0].first.args(1).inline_value() == "B");
  CHECK(f.store.NumCallbacks() == 0);
}

TEST_CASE("an argument that holds an error fails the task with that error, at once or later") {
  Fixture f;
  ObjectId bad = Fixture::NewId(), later = Fixture::NewId();
  f.PutError(bad, rpc::ErrorInfo::TASK_EXCEPTION, "boom");
  rpc::TaskSpec first;
  first.set_name("first");
  Fixture::AddRef(first, bad, f.self.Binary());
  f.resolver.Resolve(std::move(first));
  REQUIRE(f.failed.size() == 1);
  CHECK(f.failed[0].first.name() == "first");
  CHECK(f.failed[0].second.type() == rpc::ErrorInfo::TASK_EXCEPTION);
  CHECK(f.failed[0].second.message() == "boom");

  rpc::TaskSpec second;
  second.set_name("second");
  Fixture::AddRef(second, later, f.self.Binary());
  f.resolver.Resolve(std::move(second));
  f.Poll();
  CHECK(f.failed.size() == 1);
  f.PutError(later, rpc::ErrorInfo::WORKER_DIED, "worker died");
  f.Poll();
  REQUIRE(f.failed.size() == 2);
  CHECK(f.failed[1].first.name() == "second");
  CHECK(f.failed[1].second.type() == rpc::ErrorInfo::WORKER_DIED);
  CHECK(f.resolved.empty());
}
