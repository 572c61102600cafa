#include "worker/lineage.h"

#include <catch2/catch.hpp>
#include <atomic>
#include <thread>
#include <vector>

#include "worker/reference_table.h"

using namespace lumen;
using namespace lumen::worker;

namespace {

rpc::TaskSpec Spec(const TaskId& task, int max_retries, int attempt = 0) {
  rpc::TaskSpec spec;
  spec.set_task_id(task.Binary());
  spec.set_function_name("Make");
  spec.set_max_retries(max_retries);
  spec.set_attempt(attempt);
  spec.add_gpu_ids(0);
  return spec;
}

// Record with no pinned arguments (none of these specs has any).
bool Keep(Lineage& lineage, const ObjectId& id, const rpc::TaskSpec& spec) {
  std::vector<ObjectId> released;
  const bool kept = lineage.Record(id, spec, {}, &released);
  REQUIRE(released.empty());
  return kept;
}

// A Begin whose lost value is still there, forgotten when a re-run starts.
Lineage::Rebuild BeginLost(Lineage& lineage, const ObjectId& id, bool* forgotten = nullptr) {
  return lineage.Begin(id, [] { return true; }, [forgotten] {
    if (forgotten) *forgotten = true;
  });
}

}  // namespace

TEST_CASE("lineage keeps a task with retries left, and only such a task") {
  Lineage lineage;
  TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
  ObjectId id = ObjectId::FromIndex(task, 1);
  CHECK(lineage.Empty());
  CHECK_FALSE(Keep(lineage, id, Spec(task, 0)));  // max_retries = 0: nothing to re-run.
  CHECK(lineage.Empty());
  CHECK(Keep(lineage, id, Spec(task, 2)));
  CHECK(lineage.Size() == 1);
  rpc::TaskSpec actor = Spec(task, 2);
  actor.set_actor_id("an actor");
  ObjectId other = ObjectId::FromIndex(TaskId::ForNormalTask(JobId::FromInt(1)), 1);
  CHECK_FALSE(Keep(lineage, other, actor));  // Actor tasks are not re-run.
  CHECK(lineage.Size() == 1);
  lineage.Drop(id);
  CHECK(lineage.Empty());
  lineage.Drop(id);  // Twice is harmless.
  CHECK(lineage.Empty());
}

TEST_CASE("lineage is dropped when the result goes out of scope") {
  Lineage lineage;
  // As CoreWorker::OnFree does: an owned plasma object freed drops its entry.
  ReferenceTable refs([&](const ObjectId& id, bool owned, bool in_plasma) {
    if (owned && in_plasma) lineage.Drop(id);
  });
  TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
  ObjectId id = ObjectId::FromIndex(task, 1);
  refs.AddOwned(id);
  refs.Add(id);
  refs.MarkInPlasma(id);
  REQUIRE(Keep(lineage, id, Spec(task, 1)));
  refs.Remove(id);
  CHECK(lineage.Empty());
}

TEST_CASE("each rebuild counts against max_retries; then it cannot be rebuilt") {
  Lineage lineage;
  TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
  ObjectId id = ObjectId::FromIndex(task, 1);
  REQUIRE(Keep(lineage, id, Spec(task, 2)));
  bool forgotten = false;
  Lineage::Rebuild first = BeginLost(lineage, id, &forgotten);
  REQUIRE(first.kind == Lineage::Rebuild::kResubmit);
  CHECK(forgotten);
  CHECK(first.spec.attempt() == 1);
  CHECK(first.spec.gpu_ids_size() == 0);  // The re-run's lease brings its own.
  CHECK(lineage.IsRunning(id));
  CHECK(Keep(lineage, id, first.spec));  // Its reply: one retry left, kept.
  CHECK_FALSE(lineage.IsRunning(id));
  Lineage::Rebuild second = BeginLost(lineage, id);
  REQUIRE(second.kind == Lineage::Rebuild::kResubmit);
  CHECK(second.spec.attempt() == 2);
  CHECK_FALSE(Keep(lineage, id, second.spec));  // Its reply: no retries left.
  CHECK(lineage.Empty());
  Lineage::Rebuild third = BeginLost(lineage, id);
  CHECK(third.kind == Lineage::Rebuild::kImpossible);
  CHECK(third.why.find("no retries left") != std::string::npos);
}

TEST_CASE("a task with max_retries 0 and a put object cannot be rebuilt, each with its reason") {
  Lineage lineage;
  TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
  ObjectId ret = ObjectId::FromIndex(task, 1);
  Keep(lineage, ret, Spec(task, 0));
  Lineage::Rebuild no_retries = BeginLost(lineage, ret);
  CHECK(no_retries.kind == Lineage::Rebuild::kImpossible);
  CHECK(no_retries.why.find("no retries left") != std::string::npos);
  ObjectId put = ObjectId::FromIndex(TaskId::ForNormalTask(JobId::FromInt(1)), 0);
  bool forgotten = false;
  Lineage::Rebuild of_put = BeginLost(lineage, put, &forgotten);
  CHECK(of_put.kind == Lineage::Rebuild::kImpossible);
  CHECK(of_put.why == "put objects cannot be reconstructed");
  CHECK_FALSE(forgotten);  // The error value stays where it was.
}

TEST_CASE("a Get that finds the lost value already replaced reads it again, no re-run") {
  Lineage lineage;
  TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
  ObjectId id = ObjectId::FromIndex(task, 1);
  REQUIRE(Keep(lineage, id, Spec(task, 3)));
  bool forgotten = false;
  Lineage::Rebuild r = lineage.Begin(id, [] { return false; }, [&] { forgotten = true; });
  CHECK(r.kind == Lineage::Rebuild::kReplaced);
  CHECK_FALSE(forgotten);
  CHECK_FALSE(lineage.IsRunning(id));
}

TEST_CASE("concurrent Gets of one lost object start one re-run") {
  Lineage lineage;
  TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
  ObjectId id = ObjectId::FromIndex(task, 1);
  REQUIRE(Keep(lineage, id, Spec(task, 5)));
  // The owner's store: the lost value stays until the first re-run forgets it.
  std::atomic<bool> lost_value_present{true};
  constexpr int kGets = 8;
  std::vector<Lineage::Rebuild::Kind> kinds(kGets);
  std::vector<std::thread> gets;
  for (int i = 0; i < kGets; ++i) {
    gets.emplace_back([&, i] {
      kinds[i] = lineage.Begin(id, [&] { return lost_value_present.load(); },
                               [&] { lost_value_present = false; }).kind;
    });
  }
  for (auto& t : gets) t.join();
  int resubmits = 0;
  for (auto kind : kinds) {
    resubmits += kind == Lineage::Rebuild::kResubmit;
    CHECK(kind != Lineage::Rebuild::kImpossible);
  }
  CHECK(resubmits == 1);
  CHECK(lineage.IsRunning(id));
}

TEST_CASE("an entry pins its plasma arguments until it is replaced or dropped") {
  Lineage lineage;
  TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
  ObjectId id = ObjectId::FromIndex(task, 1);
  const ObjectId big = ObjectId::FromIndex(TaskId::ForNormalTask(JobId::FromInt(1)), 1);
  const ObjectId small = ObjectId::FromIndex(TaskId::ForNormalTask(JobId::FromInt(1)), 1);
  rpc::TaskSpec spec = Spec(task, 2);
  auto* in_plasma = spec.add_args();
  in_plasma->set_is_ref(true);
  in_plasma->mutable_ref()->set_object_id(big.Binary());
  auto* inlined = spec.add_args();  // Its value travels in the spec: not pinned.
  inlined->mutable_ref()->set_object_id(small.Binary());
  spec.add_args()->set_inline_value("x");
  REQUIRE(Lineage::PinnedArgs(spec) == std::vector<ObjectId>{big});

  std::vector<ObjectId> released;
  REQUIRE(lineage.Record(id, spec, Lineage::PinnedArgs(spec), &released));
  CHECK(released.empty());
  // A re-run's reply brings new holds and hands back the old ones.
  REQUIRE(lineage.Record(id, spec, Lineage::PinnedArgs(spec), &released));
  CHECK(released == std::vector<ObjectId>{big});
  CHECK(lineage.Drop(id) == std::vector<ObjectId>{big});
  CHECK(lineage.Drop(id).empty());  // Once only.
  // A reply with no retries left forgets the entry and hands its holds back.
  released.clear();
  REQUIRE(lineage.Record(id, spec, Lineage::PinnedArgs(spec), &released));
  CHECK_FALSE(lineage.Record(id, Spec(task, 0), {}, &released));
  CHECK(released == std::vector<ObjectId>{big});
  CHECK(lineage.Size() == 0);
}

namespace {

// A spec of a chain's link: its argument is the result of the link before.
rpc::TaskSpec Link(const TaskId& task, const ObjectId& previous) {
  rpc::TaskSpec spec = Spec(task, 3);
  auto* arg = spec.add_args();
  arg->set_is_ref(true);
  arg->mutable_ref()->set_object_id(previous.Binary());
  return spec;
}

// One entry's bytes, as Record counts them.
size_t EntryBytes() {
  Lineage lineage;
  TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
  rpc::TaskSpec spec = Link(task, ObjectId::FromIndex(TaskId::ForNormalTask(JobId::FromInt(1)), 1));
  std::vector<ObjectId> released;
  lineage.Record(ObjectId::FromIndex(task, 1), spec, Lineage::PinnedArgs(spec), &released);
  return lineage.Bytes();
}

}  // namespace

TEST_CASE("lineage stays under its byte budget: a long chain keeps its newest links, the oldest evicted") {
  const size_t entry = EntryBytes();
  REQUIRE(entry > 0);
  constexpr size_t kKept = 10;
  Lineage lineage(kKept * entry);
  std::vector<ObjectId> results;
  std::vector<ObjectId> handed_back;
  const ObjectId put = ObjectId::FromIndex(TaskId::ForNormalTask(JobId::FromInt(1)), 0);
  ObjectId previous = put;  // The first link reads a put.
  constexpr int kLinks = 100'000;
  for (int i = 0; i < kLinks; ++i) {
    TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
    ObjectId id = ObjectId::FromIndex(task, 1);
    rpc::TaskSpec spec = Link(task, previous);
    std::vector<ObjectId> released;
    lineage.Record(id, spec, Lineage::PinnedArgs(spec), &released);
    handed_back.insert(handed_back.end(), released.begin(), released.end());
    REQUIRE(lineage.Bytes() <= kKept * entry);
    results.push_back(id);
    previous = id;
  }
  // The oldest links went first, each handing back its hold on the link
  // before it, in order.
  REQUIRE(handed_back.size() == kLinks - kKept);
  CHECK(handed_back.front() == put);
  size_t out_of_order = 0;
  for (size_t i = 1; i < handed_back.size(); ++i) out_of_order += handed_back[i] != results[i - 1];
  CHECK(out_of_order == 0);
  CHECK(lineage.evicted_total() == kLinks - kKept);
  // The newest links can still be rebuilt; an evicted one says why not.
  CHECK(BeginLost(lineage, results.back()).kind == Lineage::Rebuild::kResubmit);
  Lineage::Rebuild old = BeginLost(lineage, results.front());
  CHECK(old.kind == Lineage::Rebuild::kImpossible);
  CHECK(old.why.find("lineage was evicted") != std::string::npos);
  CHECK(old.why.find("LUMEN_MAX_LINEAGE_BYTES") != std::string::npos);
  // An evicted id is remembered only while in scope: its Drop forgets it.
  CHECK(lineage.Size() == kLinks);
  size_t holds = 0;
  for (int i = 0; i < kLinks - static_cast<int>(kKept); ++i) holds += lineage.Drop(results[i]).size();
  CHECK(holds == 0);  // Evicted entries handed theirs back already.
  CHECK(lineage.Size() == kKept);
  CHECK(BeginLost(lineage, results.front()).why.find("no retries left") != std::string::npos);
}

TEST_CASE("lineage never evicts an entry being re-run, and one entry alone over the budget is not kept") {
  const size_t entry = EntryBytes();
  Lineage lineage(2 * entry);
  ObjectId arg = ObjectId::FromIndex(TaskId::ForNormalTask(JobId::FromInt(1)), 0);
  std::vector<ObjectId> ids;
  for (int i = 0; i < 2; ++i) {
    TaskId task = TaskId::ForNormalTask(JobId::FromInt(1));
    rpc::TaskSpec spec = Link(task, arg);
    std::vector<ObjectId> released;
    ids.push_back(ObjectId::FromIndex(task, 1));
    REQUIRE(lineage.Record(ids.back(), spec, Lineage::PinnedArgs(spec), &released));
  }
  REQUIRE(BeginLost(lineage, ids[0]).kind == Lineage::Rebuild::kResubmit);  // The oldest runs again.
  TaskId third = TaskId::ForNormalTask(JobId::FromInt(1));
  rpc::TaskSpec spec = Link(third, arg);
  std::vector<ObjectId> released;
  REQUIRE(lineage.Record(ObjectId::FromIndex(third, 1), spec, Lineage::PinnedArgs(spec), &released));
  CHECK(released == std::vector<ObjectId>{arg});  // The second went, not the running first.
  CHECK(lineage.IsRunning(ids[0]));
  CHECK(BeginLost(lineage, ids[1]).why.find("lineage was evicted") != std::string::npos);

  Lineage tiny(entry / 2);
  released.clear();
  CHECK_FALSE(tiny.Record(ObjectId::FromIndex(third, 1), spec, Lineage::PinnedArgs(spec), &released));
  CHECK(released == std::vector<ObjectId>{arg});  // Its hold handed straight back.
  CHECK(tiny.Bytes() == 0);
}
