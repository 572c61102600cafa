#include "worker/reference_table.h"

#include <catch2/catch.hpp>
#include <vector>

using namespace lumen;
using namespace lumen::worker;

TEST_CASE("the last reference frees an object, with its ownership and location") {
  std::vector<std::tuple<ObjectId, bool, bool>> freed;
  ReferenceTable refs([&](const ObjectId& id, bool owned, bool in_plasma) {
    freed.emplace_back(id, owned, in_plasma);
  });
  ObjectId owned = ObjectId::FromRandom(), borrowed = ObjectId::FromRandom();
  refs.AddOwned(owned);
  refs.MarkInPlasma(owned);
  refs.Add(owned);
  refs.Add(owned);
  refs.Add(borrowed);
  CHECK(refs.IsOwnedAndAlive(owned));
  CHECK_FALSE(refs.IsOwnedAndAlive(borrowed));
  refs.Remove(owned);
  CHECK(freed.empty());
  refs.Remove(owned);
  REQUIRE(freed.size() == 1);
  CHECK(freed[0] == std::make_tuple(owned, true, true));
  refs.Remove(borrowed);
  REQUIRE(freed.size() == 2);
  CHECK(freed[1] == std::make_tuple(borrowed, false, false));
  CHECK(refs.Size() == 0);
  refs.Remove(borrowed);  // Unknown ids are ignored.
  CHECK(freed.size() == 2);
}

TEST_CASE("refs contained in an object are held until that object is freed") {
  std::vector<ObjectId> freed;
  ReferenceTable refs([&](const ObjectId& id, bool, bool) { freed.push_back(id); });
  ObjectId outer = ObjectId::FromRandom(), a = ObjectId::FromRandom(), b = ObjectId::FromRandom();
  CHECK_FALSE(refs.AddContained(outer, {a}));  // Unknown outer: nothing held.
  CHECK_FALSE(refs.IsReferenced(a));
  refs.AddOwned(outer);
  refs.Add(outer);
  refs.Add(a);
  REQUIRE(refs.AddContained(outer, {a, b}));
  refs.Remove(a);  // The ObjectRef goes; the outer object still holds a.
  CHECK(freed.empty());
  refs.Remove(outer);
  CHECK(freed == std::vector<ObjectId>{outer, a, b});
  CHECK(refs.Size() == 0);
}

TEST_CASE("a release waiter ignores the holds taken for its requester") {
  std::vector<ObjectId> freed;
  ReferenceTable refs([&](const ObjectId& id, bool, bool) { freed.push_back(id); });
  ObjectId id = ObjectId::FromRandom();
  const std::string caller(28, 'c'), other(28, 'o');
  CHECK_FALSE(refs.WhenReleased(id, caller, [] {}));  // Not held: released already.
  refs.Add(id);
  refs.AddRemote(id, caller);
  int answered = 0, answered_other = 0;
  REQUIRE(refs.WhenReleased(id, caller, [&] { ++answered; }));
  REQUIRE(refs.WhenReleased(id, other, [&] { ++answered_other; }));
  CHECK(refs.CountExcept(id, caller) == 1);
  CHECK(refs.CountExcept(id, other) == 2);
  refs.Remove(id);  // Only the caller's hold is left: its waiter is answered.
  CHECK(answered == 1);
  CHECK(answered_other == 0);
  CHECK(freed.empty());
  CHECK_FALSE(refs.WhenReleased(id, caller, [] {}));
  refs.RemoveRemote(id, caller);
  CHECK(answered_other == 1);
  CHECK(freed == std::vector<ObjectId>{id});
}

TEST_CASE("a task's scope collects the refs it meets that this process does not own") {
  ReferenceTable refs([](const ObjectId&, bool, bool) {});
  ObjectId mine = ObjectId::FromRandom(), borrowed = ObjectId::FromRandom();
  refs.AddOwned(mine);
  refs.Add(borrowed);  // Outside any task: not collected anywhere.
  {
    TaskRefScope scope(nullptr);
    CHECK(TaskRefScope::Current() == &scope);
    refs.Add(mine);
    refs.Add(borrowed);
    CHECK(scope.seen == std::vector<ObjectId>{borrowed});
  }
  CHECK(TaskRefScope::Current() == nullptr);
}

TEST_CASE("task-argument holds are counted apart, and free like any hold") {
  std::vector<ObjectId> freed;
  ReferenceTable refs([&](const ObjectId& id, bool, bool) { freed.push_back(id); });
  ObjectId id = ObjectId::FromRandom();
  refs.AddOwned(id);
  refs.Add(id);
  refs.AddTaskArg(id);
  refs.AddTaskArg(id);
  auto info = refs.Snapshot();
  REQUIRE(info.size() == 1);
  CHECK(info[0].count == 3);
  CHECK(info[0].task_args == 2);
  refs.Remove(id);  // The driver drops its own ref: only the tasks hold it.
  info = refs.Snapshot();
  REQUIRE(info.size() == 1);
  CHECK(info[0].count == 2);
  CHECK(info[0].task_args == 2);
  refs.RemoveTaskArg(id);
  CHECK(refs.Snapshot()[0].task_args == 1);
  CHECK(freed.empty());
  refs.RemoveTaskArg(id);
  CHECK(freed == std::vector<ObjectId>{id});
  CHECK(refs.Size() == 0);
}

TEST_CASE("a plain release never takes a task-argument hold's place") {
  ReferenceTable refs([](const ObjectId&, bool, bool) {});
  ObjectId id = ObjectId::FromRandom();
  refs.AddTaskArg(id);
  refs.Add(id);
  refs.Remove(id);
  auto info = refs.Snapshot();
  REQUIRE(info.size() == 1);
  CHECK(info[0].count == 1);
  CHECK(info[0].task_args == 1);
}
