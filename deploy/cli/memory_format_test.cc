// `lumen memory` classification and formatting (deploy/cli/memory_format.h).
#include "deploy/cli/memory_format.h"

#include <catch2/catch.hpp>

#include "common/id.h"

using namespace lumen;
using namespace lumen::cli;

namespace {

const JobId kJob = JobId::FromInt(1);

// Fixed ids: ForNormalTask draws a new task id each call.
ObjectId PutId() {
  static const ObjectId id = ObjectId::FromIndex(TaskId::ForNormalTask(kJob), 0);
  return id;
}
ObjectId ReturnId() {
  static const ObjectId id = ObjectId::FromIndex(TaskId::ForNormalTask(kJob), 1);
  return id;
}

rpc::ReferenceInfo Ref(const ObjectId& id, bool owned, int count, int64_t size = 0, bool in_plasma = false) {
  rpc::ReferenceInfo ref;
  ref.set_object_id(id.Binary());
  ref.set_owned(owned);
  ref.set_count(count);
  ref.set_size(size);
  ref.set_in_plasma(in_plasma);
  return ref;
}

}  // namespace

TEST_CASE("ReferenceType says why a ref is held", "[memory]") {
  CHECK(ReferenceType(Ref(PutId(), true, 1), 0) == "PINNED_IN_MEMORY");
  CHECK(ReferenceType(Ref(ReturnId(), true, 2), 0) == "LOCAL_REFERENCE");
  CHECK(ReferenceType(Ref(ReturnId(), false, 1), 0) == "BORROWED");
  // Only an object's value holds it.
  CHECK(ReferenceType(Ref(PutId(), true, 1), 1) == "CAPTURED_IN_OBJECT");
  CHECK(ReferenceType(Ref(ReturnId(), false, 1), 1) == "CAPTURED_IN_OBJECT");
  // Held here only for another worker.
  rpc::ReferenceInfo lent = Ref(PutId(), true, 1);
  lent.add_remote_holders("w");
  CHECK(ReferenceType(lent, 0) == "BORROWED");
  lent.set_count(2);  // And one copy here.
  CHECK(ReferenceType(lent, 0) == "PINNED_IN_MEMORY");
}

TEST_CASE("a ref only tasks in flight hold is USED_BY_PENDING_TASK", "[memory]") {
  rpc::ReferenceInfo arg = Ref(PutId(), true, 2);
  arg.set_task_args(2);
  CHECK(ReferenceType(arg, 0) == "USED_BY_PENDING_TASK");
  arg.set_count(3);  // And an ObjectRef copy here: that says more.
  CHECK(ReferenceType(arg, 0) == "PINNED_IN_MEMORY");
  rpc::ReferenceInfo borrowed = Ref(ReturnId(), false, 1);
  borrowed.set_task_args(1);  // A borrower passed it on to a task of its own.
  CHECK(ReferenceType(borrowed, 0) == "USED_BY_PENDING_TASK");
  rpc::ReferenceInfo captured = Ref(ReturnId(), true, 2);
  captured.set_task_args(1);
  CHECK(ReferenceType(captured, 1) == "USED_BY_PENDING_TASK");

  rpc::GetReferencesReply reply;
  *reply.add_references() = arg;
  reply.mutable_references(0)->set_count(2);
  std::vector<Row> rows = ObjectRows(RefProcess{"10.0.0.1", 7, true, "ab"}, reply);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["reference_type"] == "USED_BY_PENDING_TASK");
  CHECK(rows[0]["task_args"] == 2);
  CHECK(rows[0]["local_refs"] == 0);
  CHECK(ParseFilters(ObjectsKind(), {"task_args=1"}).ok());
}

TEST_CASE("a ref only lineage holds is USED_BY_LINEAGE", "[memory]") {
  rpc::ReferenceInfo pinned = Ref(PutId(), true, 1);
  pinned.set_lineage(1);
  CHECK(ReferenceType(pinned, 0) == "USED_BY_LINEAGE");
  pinned.set_count(2);  // And an ObjectRef copy here: that says more.
  CHECK(ReferenceType(pinned, 0) == "PINNED_IN_MEMORY");
  pinned.set_count(2);
  pinned.set_task_args(1);  // And a task in flight: that too.
  CHECK(ReferenceType(pinned, 0) == "USED_BY_PENDING_TASK");

  rpc::GetReferencesReply reply;
  *reply.add_references() = Ref(PutId(), true, 1);
  reply.mutable_references(0)->set_lineage(1);
  std::vector<Row> rows = ObjectRows(RefProcess{"10.0.0.1", 7, true, "ab"}, reply);
  REQUIRE(rows.size() == 1);
  CHECK(rows[0]["reference_type"] == "USED_BY_LINEAGE");
  CHECK(rows[0]["lineage"] == 1);
  CHECK(rows[0]["local_refs"] == 0);
  CHECK(ParseFilters(ObjectsKind(), {"reference_type=USED_BY_LINEAGE"}).ok());
}

TEST_CASE("ObjectRows derive the split of a ref's holds", "[memory]") {
  rpc::GetReferencesReply reply;
  *reply.add_references() = Ref(PutId(), true, 1, 1 << 20, true);
  rpc::ReferenceInfo outer = Ref(ReturnId(), true, 1, 40);
  outer.add_contains(PutId().Binary());
  *reply.add_references() = outer;
  reply.mutable_references(0)->set_count(2);  // One copy here + held by `outer`.
  RefProcess process{"10.0.0.1", 4242, true, "abcdef"};
  std::vector<Row> rows = ObjectRows(process, reply);
  REQUIRE(rows.size() == 2);
  CHECK(rows[0]["object_id"] == PutId().Hex());
  CHECK(rows[0]["reference_type"] == "PINNED_IN_MEMORY");
  CHECK(rows[0]["source"] == "PUT");
  CHECK(rows[0]["where"] == "plasma");
  CHECK(rows[0]["size"] == (1 << 20));
  CHECK(rows[0]["local_refs"] == 1);
  CHECK(rows[0]["contained_in"] == 1);
  CHECK(rows[0]["process"] == "driver");
  CHECK(rows[0]["pid"] == 4242);
  CHECK(rows[1]["source"] == "TASK_RETURN");
  CHECK(rows[1]["where"] == "in-process");
  CHECK(rows[1]["reference_type"] == "LOCAL_REFERENCE");

  const std::string table = FormatMemory(rows);
  CHECK(table.find("driver pid 4242 on 10.0.0.1") != std::string::npos);
  CHECK(table.find("PINNED_IN_MEMORY") != std::string::npos);
  CHECK(table.find("2 object refs in 1 processes, 1048616 bytes known") != std::string::npos);
  size_t start = 0;
  while (start < table.size()) {
    size_t end = table.find('\n', start);
    CHECK(end - start <= 80);
    start = end + 1;
  }

  std::vector<Row> summary = SummarizeObjects(rows);
  bool pinned = false, owner = false;
  for (const Row& row : summary) {
    if (row["group"] == "reference_type" && row["name"] == "PINNED_IN_MEMORY") {
      pinned = true;
      CHECK(row["refs"] == 1);
      CHECK(row["bytes"] == (1 << 20));
    }
    if (row["group"] == "owner") {
      owner = true;
      CHECK(row["name"] == "driver pid 4242 on 10.0.0.1");
      CHECK(row["refs"] == 2);
    }
  }
  CHECK(pinned);
  CHECK(owner);
}

TEST_CASE("list objects filters know the objects' fields only", "[memory]") {
  CHECK(ParseFilters(ObjectsKind(), {"reference_type=BORROWED"}).ok());
  auto bad = ParseFilters(ObjectsKind(), {"colour=red"});
  REQUIRE(!bad.ok());
  CHECK(std::string(bad.status().message()).find('\n') == std::string::npos);
}
