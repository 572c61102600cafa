// raylet/gcs_reporter.h
//
// GcsReporter tells the GCS what only this raylet sees, without blocking the
// loop: a job's driver is gone here (MarkJobFinished) and a worker dedicated
// to an actor died (ReportWorkerFailure, with the cause). Each report is
// sent at once and, while the GCS cannot be reached (UNAVAILABLE,
// DEADLINE_EXCEEDED), sent again with a doubling delay (first_retry_ms up
// to max_retry_ms) until give_up_after_ms has passed since it was first
// sent; then it is dropped with a warning. Other errors (the GCS refused
// it) are logged and dropped. A resent report may reach the GCS twice
// (lost reply): both RPCs are idempotent there.
//
// Order: a worker failure of job J is held back while a MarkJobFinished(J)
// is unanswered, so for a driver's death the GCS hears of the job's end
// before the deaths of the actor workers killed for it (and does not
// restart actors whose owner is gone).
//
// Threading: the raylet loop only (callbacks from GcsClient arrive there).
// Tick() (every ~100 ms) sends the reports whose retry time has come.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/clock.h"
#include "common/id.h"
#include "proto/gcs.pb.h"
#include "raylet/gcs_client.h"

namespace lumen::raylet {

struct GcsReporterOptions {
  int64_t rpc_timeout_ms = 2000;
  int64_t first_retry_ms = 200;
  int64_t max_retry_ms = 2000;
  // Long enough for a GCS restarted on Redis to come back.
  int64_t give_up_after_ms = 60000;
};

class GcsReporter {
 public:
  // `client` and `clock` are not owned and must outlive the reporter.
  GcsReporter(GcsClient& client, const Clock& clock, GcsReporterOptions options = {});

  void MarkJobFinished(const JobId& job);
  void ReportWorkerFailure(const rpc::ReportWorkerFailureRequest& report);
  void Tick();

  // Reports not yet answered successfully nor given up on.
  int NumPending() const { return static_cast<int>(reports_.size()); }

 private:
  struct Report {
    JobId job;
    bool is_job_end = false;
    rpc::ReportWorkerFailureRequest failure;  // When !is_job_end.
    int64_t first_sent_ms = -1;               // -1: never sent (held back).
    int64_t next_attempt_ms = 0;
    int64_t backoff_ms = 0;
    bool in_flight = false;
  };

  void Add(Report report);
  void SendDue();
  bool HeldBack(const Report& report) const;
  void Send(int64_t id, Report& report);
  void OnAnswered(int64_t id, absl::Status status);
  static std::string Describe(const Report& report);

  GcsClient& client_;
  const Clock& clock_;
  GcsReporterOptions options_;
  std::map<int64_t, Report> reports_;  // By id: oldest first.
  int64_t next_id_ = 1;
};

}  // namespace lumen::raylet
