#include "common/id.h"

#include <catch2/catch.hpp>
#include <unordered_set>

using namespace lumen;

TEST_CASE("ids print as hex and round-trip") {
  JobId job = JobId::FromInt(1);
  CHECK(job.Hex() == "01000000");
  TaskId task = TaskId::ForNormalTask(job);
  ObjectId obj = ObjectId::FromIndex(task, 1);
  std::string hex = obj.Hex();
  CHECK(hex.size() == 56);
  // Layout matches Ray's: 8 unique bytes, 12 nil actor bytes, job, index.
  CHECK(hex.substr(16, 24) == "ffffffffffffffffffffffff");
  CHECK(hex.substr(40) == "0100000001000000");
  CHECK(ObjectId::FromHex(hex).value() == obj);
  CHECK(obj.Task() == task);
  CHECK(obj.Index() == 1);
  CHECK(task.Job() == job);
}

TEST_CASE("ids reject malformed input") {
  CHECK_FALSE(ObjectId::FromBinary("short").ok());
  CHECK_FALSE(ObjectId::FromHex("zz").ok());
  CHECK_FALSE(JobId::FromHex("0100000g").ok());
  CHECK(NodeId::FromBinaryOrNil("x").IsNil());
}

TEST_CASE("random ids are distinct and hashable") {
  std::unordered_set<WorkerId> seen;
  for (int i = 0; i < 1000; ++i) seen.insert(WorkerId::FromRandom());
  CHECK(seen.size() == 1000);
  CHECK(NodeId::Nil().IsNil());
  CHECK_FALSE(NodeId::FromRandom().IsNil());
}
