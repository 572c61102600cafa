#include "raylet/gcs_reporter.h"

#include <algorithm>

#include "common/logging.h"
#include "common/rpc/grpc_status.h"

namespace lumen::raylet {

GcsReporter::GcsReporter(GcsClient& client, const Clock& clock, GcsReporterOptions options)
    : client_(client), clock_(clock), options_(options) {}

void GcsReporter::MarkJobFinished(const JobId& job) {
  Report report;
  report.job = job;
  report.is_job_end = true;
  Add(std::move(report));
}

void GcsReporter::ReportWorkerFailure(const rpc::ReportWorkerFailureRequest& failure) {
  Report report;
  report.job = ActorId::FromBinaryOrNil(failure.actor_id()).Job();
  report.failure = failure;
  Add(std::move(report));
}

void GcsReporter::Add(Report report) {
  reports_.emplace(next_id_++, std::move(report));
  SendDue();
}

void GcsReporter::Tick() { SendDue(); }

bool GcsReporter::HeldBack(const Report& report) const {
  if (report.is_job_end) return false;
  return std::any_of(reports_.begin(), reports_.end(), [&](const auto& entry) {
    return entry.second.is_job_end && entry.second.job == report.job;
  });
}

void GcsReporter::SendDue() {
  const int64_t now = clock_.MonotonicMs();
  std::vector<int64_t> due;
  for (const auto& [id, report] : reports_) {
    if (!report.in_flight && report.next_attempt_ms <= now && !HeldBack(report)) {
      due.push_back(id);
    }
  }
  // An answer may arrive inline (a fake, a failed channel): look each up again.
  for (int64_t id : due) {
    auto it = reports_.find(id);
    if (it != reports_.end() && !it->second.in_flight) Send(id, it->second);
  }
}

void GcsReporter::Send(int64_t id, Report& report) {
  report.in_flight = true;
  if (report.first_sent_ms < 0) report.first_sent_ms = clock_.MonotonicMs();
  auto done = [this, id](absl::Status status) { OnAnswered(id, std::move(status)); };
  if (report.is_job_end) {
    client_.MarkJobFinished(report.job, options_.rpc_timeout_ms, std::move(done));
  } else {
    client_.ReportWorkerFailure(report.failure, options_.rpc_timeout_ms, std::move(done));
  }
}

void GcsReporter::OnAnswered(int64_t id, absl::Status status) {
  auto it = reports_.find(id);
  if (it == reports_.end()) return;
  Report& report = it->second;
  report.in_flight = false;
  const int64_t now = clock_.MonotonicMs();
  if (!status.ok() && rpc::IsLostMessage(status) &&
      now - report.first_sent_ms < options_.give_up_after_ms) {
    report.backoff_ms = report.backoff_ms == 0
                            ? options_.first_retry_ms
                            : std::min(report.backoff_ms * 2, options_.max_retry_ms);
    report.next_attempt_ms = now + report.backoff_ms;
    VLOG(1) << Describe(report) << ": " << status << "; again in " << report.backoff_ms << " ms";
    return;
  }
  if (!status.ok()) {
    LOG(WARNING) << "the GCS never took " << Describe(report) << ": " << status;
  }
  reports_.erase(it);
  SendDue();  // Reports held back behind a job's end may go now.
}

std::string GcsReporter::Describe(const Report& report) {
  if (report.is_job_end) return "MarkJobFinished(job " + report.job.Hex() + ")";
  return "ReportWorkerFailure(worker " +
         WorkerId::FromBinaryOrNil(report.failure.worker_id()).Hex() + ", actor " +
         ActorId::FromBinaryOrNil(report.failure.actor_id()).Hex() + ", " +
         report.failure.cause() + ")";
}

}  // namespace lumen::raylet
