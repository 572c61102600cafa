// Unit tests of GcsReporter: job ends and actor worker failures reach the
// GCS once answered, are sent again while the GCS is unreachable (doubling
// delay, fake clock), are dropped after the give-up time or a refusal, and
// a job's worker failures wait for its MarkJobFinished.
#include "raylet/gcs_reporter.h"

#include <catch2/catch.hpp>

#include "raylet/fake_gcs_client.h"

using namespace lumen;
using namespace lumen::raylet;

namespace {

const absl::Status kDown = absl::UnavailableError("connection refused");

struct Fixture {
  Fixture() : reporter(gcs, clock, Options()) {}
  static GcsReporterOptions Options() {
    GcsReporterOptions options;
    options.first_retry_ms = 200;
    options.max_retry_ms = 800;
    options.give_up_after_ms = 3000;
    return options;
  }
  // Advances time in 100 ms ticks, as the daemon does.
  void Run(int64_t ms) {
    for (int64_t t = 0; t < ms; t += 100) {
      clock.AdvanceMs(100);
      reporter.Tick();
    }
  }
  rpc::ReportWorkerFailureRequest Failure(const ActorId& actor, const std::string& cause) {
    rpc::ReportWorkerFailureRequest report;
    report.set_worker_id(WorkerId::FromRandom().Binary());
    report.set_actor_id(actor.Binary());
    report.set_pid(4242);
    report.set_cause(cause);
    return report;
  }

  FakeGcsClient gcs;
  FakeClock clock;
  GcsReporter reporter;
  JobId job = JobId::FromInt(7);
};

}  // namespace

TEST_CASE("a report is sent at once and forgotten once the GCS answers") {
  Fixture f;
  ActorId actor = ActorId::Of(f.job);
  f.reporter.ReportWorkerFailure(f.Failure(actor, "exited with status 3"));
  REQUIRE(f.gcs.worker_failures.size() == 1);
  CHECK(f.gcs.worker_failures[0].actor_id() == actor.Binary());
  CHECK(f.gcs.worker_failures[0].cause() == "exited with status 3");
  CHECK(f.reporter.NumPending() == 1);
  f.gcs.AnswerNext(absl::OkStatus());
  CHECK(f.reporter.NumPending() == 0);
  f.Run(5000);
  CHECK(f.gcs.worker_failures.size() == 1);
}

TEST_CASE("an unreachable GCS gets the report again with a doubling delay, then it is dropped") {
  Fixture f;
  f.reporter.MarkJobFinished(f.job);
  REQUIRE(f.gcs.finished_jobs.size() == 1);
  f.gcs.AnswerNext(kDown);
  f.Run(100);
  CHECK(f.gcs.finished_jobs.size() == 1);  // Not before 200 ms.
  f.Run(100);
  REQUIRE(f.gcs.finished_jobs.size() == 2);
  f.gcs.AnswerNext(absl::DeadlineExceededError("deadline"));
  f.Run(300);
  CHECK(f.gcs.finished_jobs.size() == 2);  // Now 400 ms.
  f.Run(100);
  REQUIRE(f.gcs.finished_jobs.size() == 3);
  // Down for good: attempts stop after give_up_after_ms (3 s).
  while (!f.gcs.pending_calls.empty()) {
    f.gcs.AnswerNext(kDown);
    f.Run(100);
    if (f.gcs.pending_calls.empty()) f.Run(1000);
  }
  CHECK(f.reporter.NumPending() == 0);
  const size_t attempts = f.gcs.finished_jobs.size();
  CHECK(attempts >= 5);
  CHECK(attempts <= 8);  // 0, 0.2, 0.6, 1.4, 2.2, 3.0 s: spaced out, not every tick.
  f.Run(5000);
  CHECK(f.gcs.finished_jobs.size() == attempts);
}

TEST_CASE("a report the GCS refuses is not sent again") {
  Fixture f;
  f.reporter.ReportWorkerFailure(f.Failure(ActorId::Of(f.job), "killed by signal 9 (SIGKILL)"));
  f.gcs.AnswerNext(absl::NotFoundError("unknown actor"));
  CHECK(f.reporter.NumPending() == 0);
  f.Run(2000);
  CHECK(f.gcs.worker_failures.size() == 1);
}

TEST_CASE("a job's worker failures wait until the GCS has taken the job's end") {
  Fixture f;
  JobId other = JobId::FromInt(8);
  f.reporter.MarkJobFinished(f.job);
  f.reporter.ReportWorkerFailure(f.Failure(ActorId::Of(f.job), "killed by the raylet: x"));
  f.reporter.ReportWorkerFailure(f.Failure(ActorId::Of(other), "exited with status 1"));
  // The other job's failure goes at once; this job's waits.
  REQUIRE(f.gcs.worker_failures.size() == 1);
  CHECK(ActorId::FromBinaryOrNil(f.gcs.worker_failures[0].actor_id()).Job() == other);
  f.gcs.AnswerNext(kDown);  // The job end is lost: still held.
  f.Run(1000);
  CHECK(f.gcs.worker_failures.size() == 1);
  REQUIRE(f.gcs.finished_jobs.size() >= 2);
  f.gcs.AnswerNext(absl::OkStatus());  // The other job's failure.
  f.gcs.AnswerNext(absl::OkStatus());  // The job end.
  REQUIRE(f.gcs.worker_failures.size() == 2);
  CHECK(f.gcs.worker_failures[1].cause() == "killed by the raylet: x");
  f.gcs.AnswerNext(absl::OkStatus());
  CHECK(f.reporter.NumPending() == 0);
}
