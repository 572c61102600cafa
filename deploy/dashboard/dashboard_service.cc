#include "deploy/dashboard/dashboard_service.h"

#include <fstream>
#include <memory>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/rpc/auth.h"

namespace lumen::dashboard {
namespace {

using nlohmann::json;

http::Response Json(int status, const json& body) {
  http::Response response;
  response.status = status;
  response.body = body.dump() + "\n";
  return response;
}

// The HTTP status for an error of the JobManager.
http::Response ErrorOf(const absl::Status& status) {
  int code = 500;
  switch (status.code()) {
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition: code = 400; break;
    case absl::StatusCode::kNotFound: code = 404; break;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded: code = 503; break;
    default: break;
  }
  return http::JsonError(code, std::string(status.message()));
}

std::string ReadFrom(const std::string& path, std::streamoff& offset) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  in.seekg(offset);
  std::ostringstream out;
  out << in.rdbuf();
  std::string data = out.str();
  offset += static_cast<std::streamoff>(data.size());
  return data;
}

}  // namespace

DashboardService::DashboardService(JobManager& jobs, std::string token)
    : jobs_(jobs), token_(std::move(token)) {}

bool DashboardService::Authorized(const http::Request& request) const {
  const std::string header = request.Header("authorization");
  const std::string prefix = "Bearer ";
  if (header.rfind(prefix, 0) != 0) return false;
  return rpc::TokenEquals(header.substr(prefix.size()), token_);
}

http::Response DashboardService::Handle(const http::Request& request) {
  if (request.path == "/api/health" || request.path == "/-/healthz") {
    if (request.method != "GET") return http::JsonError(405, "only GET");
    return Json(200, {{"status", "ok"}});
  }
  if (!Authorized(request)) {
    http::Response response = http::JsonError(
        401, request.Header("authorization").empty()
                 ? "missing cluster token: send `Authorization: Bearer <token>` (the token is in "
                   "~/.lumen/token or $LUMEN_TOKEN)"
                 : "wrong cluster token");
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return response;
  }
  if (request.path == "/api/version") {
    return Json(200, {{"version", "3"}, {"ray_version", "lumen"}, {"ray_commit", ""}});
  }
  if (request.path == "/api/jobs" || request.path == "/api/jobs/") return HandleJobs(request);
  const std::string prefix = "/api/jobs/";
  if (request.path.rfind(prefix, 0) == 0) {
    std::string rest = request.path.substr(prefix.size());
    const size_t slash = rest.find('/');
    const std::string id = rest.substr(0, slash);
    return HandleJob(request, id, slash == std::string::npos ? "" : rest.substr(slash));
  }
  return http::JsonError(404, "no such path: " + request.path);
}

http::Response DashboardService::HandleJobs(const http::Request& request) {
  if (request.method == "GET") {
    auto jobs = jobs_.List();
    if (!jobs.ok()) return ErrorOf(jobs.status());
    json list = json::array();
    for (const JobInfo& job : *jobs) list.push_back(JobToJson(job));
    return Json(200, list);
  }
  if (request.method != "POST") return http::JsonError(405, "use GET or POST on /api/jobs/");
  auto parsed = ParseSubmitRequest(request.body);
  if (!parsed.ok()) return ErrorOf(parsed.status());
  auto job = jobs_.Submit(*std::move(parsed));
  if (!job.ok()) return ErrorOf(job.status());
  return Json(200, {{"submission_id", job->submission_id}, {"job_id", nullptr}});
}

http::Response DashboardService::HandleJob(const http::Request& request, const std::string& id,
                                           const std::string& rest) {
  if (rest.empty() || rest == "/") {
    if (request.method == "DELETE") {
      if (absl::Status s = jobs_.Delete(id); !s.ok()) return ErrorOf(s);
      return Json(200, {{"deleted", true}});
    }
    if (request.method != "GET") return http::JsonError(405, "use GET or DELETE on a job");
    auto job = jobs_.Get(id);
    if (!job.ok()) return ErrorOf(job.status());
    return Json(200, JobToJson(*job));
  }
  if (rest == "/stop") {
    if (request.method != "POST") return http::JsonError(405, "use POST to stop a job");
    auto stopped = jobs_.Stop(id);
    if (!stopped.ok()) return ErrorOf(stopped.status());
    return Json(200, {{"stopped", *stopped}});
  }
  if (request.method != "GET") return http::JsonError(405, "use GET for logs");
  auto job = jobs_.Get(id);
  if (!job.ok()) return ErrorOf(job.status());
  if (rest == "/logs") {
    std::streamoff offset = 0;
    return Json(200, {{"logs", ReadFrom(jobs_.LogPath(id), offset)}});
  }
  if (rest == "/logs/tail") return TailLogs(id);
  return http::JsonError(404, "no such path: " + request.path);
}

// The log so far, then what is appended, until the job has ended and its
// log is read to the end.
http::Response DashboardService::TailLogs(const std::string& id) {
  http::Response response;
  response.content_type = "text/plain; charset=utf-8";
  auto offset = std::make_shared<std::streamoff>(0);
  const std::string path = jobs_.LogPath(id);
  response.body = ReadFrom(path, *offset);
  JobManager* jobs = &jobs_;
  response.next_chunk = [jobs, id, path, offset](std::string& chunk) {
    auto job = jobs->Get(id);
    const bool ended = !job.ok() || IsTerminal(job->status);
    chunk = ReadFrom(path, *offset);  // After the status: nothing written later is lost.
    return !ended;
  };
  return response;
}

}  // namespace lumen::dashboard
