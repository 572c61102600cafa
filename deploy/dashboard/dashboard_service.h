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
// The web page (deploy/dashboard/web_page.h): GET /, /jobs, /actors, /tasks,
// /nodes; GET /api/cluster (its data as JSON); GET /static/chart.js
// (Debian's libjs-chart.js). Browsers log in at /login with the token (a
// form); a right token gets a random session cookie (HttpOnly,
// SameSite=Lax), which then stands for the token. A page asked for without
// either is a redirect (303) to /login.
// Threading: Handle runs on the dashboard's loop (it calls the JobManager).
#pragma once

#include <deque>
#include <string>

#include "common/http_server.h"
#include "deploy/dashboard/cluster_view.h"
#include "deploy/dashboard/job_manager.h"

namespace lumen::dashboard {

class DashboardService {
 public:
  // `jobs` and `cluster` are not owned and must outlive the service.
  // `chart_js`: the Chart.js file served as /static/chart.js.
  DashboardService(JobManager& jobs, ClusterView& cluster, std::string token,
                   std::string chart_js);

  http::Response Handle(const http::Request& request);

 private:
  bool Authorized(const http::Request& request) const;
  http::Response HandleLogin(const http::Request& request);
  http::Response HandlePage(const std::string& page);
  http::Response ServeChartJs() const;
  http::Response HandleJobs(const http::Request& request);
  http::Response HandleJob(const http::Request& request, const std::string& id,
                           const std::string& rest);
  http::Response TailLogs(const std::string& id);

  JobManager& jobs_;
  ClusterView& cluster_;
  std::string token_;
  std::string chart_js_;
  std::deque<std::string> sessions_;  // Session cookies given out, newest last.
};

}  // namespace lumen::dashboard
