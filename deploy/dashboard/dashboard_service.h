// deploy/dashboard/dashboard_service.h
//
// The dashboard's HTTP routes (docs/dashboard.md), behind the cluster
// token: every request but GET /api/health (and /-/healthz) must carry
// `Authorization: Bearer <token>`, compared in constant time; otherwise 401
// with a JSON error. The Jobs REST API follows Ray's paths and fields:
//   GET    /api/version
//   POST   /api/jobs/                 submit -> {"submission_id", "job_id"}
//   GET    /api/jobs/                 list of JobDetails
//   GET    /api/jobs/{id}             one JobDetails
//   GET    /api/jobs/{id}/logs        {"logs": "..."}
//   GET    /api/jobs/{id}/logs/tail   the log as it grows (chunked text)
//   POST   /api/jobs/{id}/stop        {"stopped": bool}
//   DELETE /api/jobs/{id}             {"deleted": true}, finished jobs only
// Errors are JSON {"error": "..."}: 400 bad request (malformed JSON with the
// parser's message, a taken submission id), 401, 404, 405, 503 when the GCS
// does not answer.
// Threading: Handle runs on the dashboard's loop (it calls the JobManager).
#pragma once

#include <string>

#include "common/http_server.h"
#include "deploy/dashboard/job_manager.h"

namespace lumen::dashboard {

class DashboardService {
 public:
  // `jobs` is not owned and must outlive the service.
  DashboardService(JobManager& jobs, std::string token);

  http::Response Handle(const http::Request& request);

 private:
  bool Authorized(const http::Request& request) const;
  http::Response HandleJobs(const http::Request& request);
  http::Response HandleJob(const http::Request& request, const std::string& id,
                           const std::string& rest);
  http::Response TailLogs(const std::string& id);

  JobManager& jobs_;
  std::string token_;
};

}  // namespace lumen::dashboard
