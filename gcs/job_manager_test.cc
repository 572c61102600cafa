#include "gcs/job_manager.h"

#include <catch2/catch.hpp>

#include "gcs/store/in_memory_store_client.h"
#include "gcs/tables.h"

using namespace lumen;
using namespace lumen::gcs;

TEST_CASE("jobs get ids 1, 2, 3 as 4-byte little-endian JobIds") {
  InMemoryStoreClient store;
  FakeClock clock;
  JobManager jobs(store, clock);
  rpc::JobInfo job;
  job.set_driver_pid(42);
  job.set_job_id("ignored");
  for (uint32_t expected = 1; expected <= 3; ++expected) {
    auto id = jobs.AddJob(job);
    REQUIRE(id.ok());
    CHECK(id->ToInt() == expected);
  }
  CHECK(JobId::FromInt(1).Binary() == std::string("\x01\x00\x00\x00", 4));
  const rpc::JobInfo* first = jobs.Find(JobId::FromInt(1).Binary());
  REQUIRE(first != nullptr);
  CHECK(first->driver_pid() == 42);
  CHECK(first->start_time_ms() == clock.WallMs());
  CHECK_FALSE(first->is_dead());
  auto all = jobs.GetAll();
  REQUIRE(all.size() == 3);
  CHECK(JobId::FromBinaryOrNil(all[2].job_id()).ToInt() == 3);
}

TEST_CASE("finishing a job records the end; unknown jobs are NotFound") {
  InMemoryStoreClient store;
  FakeClock clock;
  JobManager jobs(store, clock);
  JobId id = jobs.AddJob(rpc::JobInfo()).value();
  clock.AdvanceMs(250);
  REQUIRE(jobs.MarkFinished(id.Binary()).ok());
  REQUIRE(jobs.MarkFinished(id.Binary()).ok());  // Twice is fine.
  CHECK(jobs.Find(id.Binary())->is_dead());
  CHECK(jobs.Find(id.Binary())->end_time_ms() == clock.WallMs());
  CHECK(absl::IsNotFound(jobs.MarkFinished(JobId::FromInt(99).Binary())));
}

TEST_CASE("a reloaded job table continues the id sequence") {
  InMemoryStoreClient store;
  FakeClock clock;
  {
    JobManager jobs(store, clock);
    jobs.AddJob(rpc::JobInfo()).value();
    JobId second = jobs.AddJob(rpc::JobInfo()).value();
    REQUIRE(jobs.MarkFinished(second.Binary()).ok());
  }
  JobManager reloaded(store, clock);
  REQUIRE(reloaded.Load().ok());
  CHECK(reloaded.GetAll().size() == 2);
  CHECK(reloaded.Find(JobId::FromInt(2).Binary())->is_dead());
  CHECK(reloaded.AddJob(rpc::JobInfo()).value().ToInt() == 3);
}

TEST_CASE("jobs a raylet reports as running are restored and their ids never handed out") {
  // A GCS restarted without Redis: empty tables, and a raylet whose drivers
  // hold jobs 1 and 5 registers again.
  InMemoryStoreClient store;
  FakeClock clock;
  JobManager jobs(store, clock);
  rpc::JobInfo one;
  one.set_job_id(JobId::FromInt(1).Binary());
  one.set_driver_pid(100);
  rpc::JobInfo five = one;
  five.set_job_id(JobId::FromInt(5).Binary());
  five.set_driver_pid(500);
  REQUIRE(jobs.Restore(five).ok());
  REQUIRE(jobs.Restore(one).ok());
  REQUIRE(jobs.Find(one.job_id()) != nullptr);
  CHECK_FALSE(jobs.Find(one.job_id())->is_dead());
  CHECK(jobs.Find(five.job_id())->driver_pid() == 500);
  CHECK(jobs.AddJob(rpc::JobInfo()).value().ToInt() == 6);
  // Restoring a known job changes nothing...
  REQUIRE(jobs.Restore(one).ok());
  CHECK(jobs.Find(one.job_id())->driver_pid() == 100);
  // ...but the raylet's running driver wins over a record naming another.
  rpc::JobInfo other = one;
  other.set_driver_pid(999);
  REQUIRE(jobs.Restore(other).ok());
  CHECK(jobs.Find(one.job_id())->driver_pid() == 999);
  CHECK(absl::IsInvalidArgument(jobs.Restore(rpc::JobInfo())));
}

TEST_CASE("a repeated AddJob (its reply lost) gets the job the first call created") {
  InMemoryStoreClient store;
  FakeClock clock;
  JobManager jobs(store, clock);
  JobId first = jobs.AddJob(rpc::JobInfo(), "request-1").value();
  CHECK(jobs.AddJob(rpc::JobInfo(), "request-1").value() == first);
  CHECK(jobs.GetAll().size() == 1);
  JobId other = jobs.AddJob(rpc::JobInfo(), "request-2").value();
  CHECK(other != first);
  CHECK(jobs.AddJob(rpc::JobInfo()).value() != jobs.AddJob(rpc::JobInfo()).value());
}

TEST_CASE("ids are never reused even if the counter is behind the table") {
  InMemoryStoreClient store;
  FakeClock clock;
  rpc::JobInfo job;
  job.set_job_id(JobId::FromInt(7).Binary());
  REQUIRE(store.Put(kJobTable, JobId::FromInt(7).Hex(), job.SerializeAsString()).ok());
  REQUIRE(store.Put(kCounterTable, kJobIdCounter, "5").ok());
  JobManager jobs(store, clock);
  REQUIRE(jobs.Load().ok());
  CHECK(jobs.AddJob(rpc::JobInfo()).value().ToInt() == 8);
}
