#include "deploy/dashboard/dashboard_service.h"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>

#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/rpc/auth.h"
#include "deploy/dashboard/web_page.h"

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

constexpr char kSessionCookie[] = "lumen_session";
constexpr size_t kMaxSessions = 1000;
constexpr int kRefreshSeconds = 5;

http::Response Html(int status, std::string body) {
  http::Response response;
  response.status = status;
  response.content_type = "text/html; charset=utf-8";
  response.body = std::move(body);
  return response;
}

std::string PercentDecode(const std::string& text) {
  std::string out;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '+') {
      out += ' ';
    } else if (text[i] == '%' && i + 2 < text.size() && std::isxdigit(text[i + 1]) &&
               std::isxdigit(text[i + 2])) {
      out += static_cast<char>(std::stoi(text.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += text[i];
    }
  }
  return out;
}

// application/x-www-form-urlencoded (also a query string).
std::map<std::string, std::string> ParseForm(const std::string& body) {
  std::map<std::string, std::string> out;
  for (absl::string_view pair : absl::StrSplit(body, '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    out[PercentDecode(std::string(pair.substr(0, eq)))] =
        eq == absl::string_view::npos ? "" : PercentDecode(std::string(pair.substr(eq + 1)));
  }
  return out;
}

std::string CookieValue(const std::string& header, const std::string& name) {
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::StartsWith(part, name + "=")) return std::string(part.substr(name.size() + 1));
  }
  return "";
}

std::string NewSessionId() {
  std::random_device device;
  std::string id;
  static const char kHex[] = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) id += kHex[device() % 16];
  return id;
}

}  // namespace

DashboardService::DashboardService(JobManager& jobs, ClusterView& cluster, std::string token,
                                   std::string chart_js)
    : jobs_(jobs), cluster_(cluster), token_(std::move(token)), chart_js_(std::move(chart_js)) {}

bool DashboardService::Authorized(const http::Request& request) const {
  const std::string header = request.Header("authorization");
  const std::string prefix = "Bearer ";
  if (header.rfind(prefix, 0) == 0) return rpc::TokenEquals(header.substr(prefix.size()), token_);
  const std::string cookie = CookieValue(request.Header("cookie"), kSessionCookie);
  if (cookie.empty()) return false;
  bool found = false;
  for (const std::string& session : sessions_) found |= rpc::TokenEquals(cookie, session);
  return found;
}

http::Response DashboardService::HandleLogin(const http::Request& request) {
  std::map<std::string, std::string> form = ParseForm(request.method == "POST" ? request.body
                                                                               : request.query);
  std::string next = form["next"];
  if (next.empty() || next[0] != '/' || next.rfind("//", 0) == 0) next = "/";
  if (request.method == "GET") return Html(200, RenderLogin(next, ""));
  if (request.method != "POST") return http::JsonError(405, "use GET or POST on /login");
  if (!rpc::TokenEquals(form["token"], token_)) {
    return Html(401, RenderLogin(next, "wrong cluster token"));
  }
  sessions_.push_back(NewSessionId());
  while (sessions_.size() > kMaxSessions) sessions_.pop_front();
  http::Response response = Html(303, "");
  response.headers.emplace_back("Location", next);
  response.headers.emplace_back("Set-Cookie", std::string(kSessionCookie) + "=" +
                                                  sessions_.back() +
                                                  "; Path=/; Max-Age=43200; HttpOnly; SameSite=Lax");
  return response;
}

http::Response DashboardService::HandlePage(const std::string& page) {
  auto snapshot = cluster_.Snapshot();
  if (!snapshot.ok()) return ErrorOf(snapshot.status());
  auto jobs = jobs_.List();
  if (!jobs.ok()) return ErrorOf(jobs.status());
  json list = json::array();
  for (const JobInfo& job : *jobs) list.push_back(JobToJson(job));
  return Html(200, RenderPage(page, *snapshot, cluster_.History(), list, kRefreshSeconds));
}

http::Response DashboardService::ServeChartJs() const {
  std::streamoff offset = 0;
  std::string script = ReadFrom(chart_js_, offset);
  if (script.empty()) {
    return http::JsonError(404, chart_js_ + " is missing (Debian package libjs-chart.js); the "
                                            "pages work without their chart");
  }
  http::Response response;
  response.content_type = "application/javascript";
  response.body = std::move(script);
  return response;
}

http::Response DashboardService::Handle(const http::Request& request) {
  if (request.path == "/api/health" || request.path == "/-/healthz") {
    if (request.method != "GET") return http::JsonError(405, "only GET");
    return Json(200, {{"status", "ok"}});
  }
  if (request.path == "/login") return HandleLogin(request);
  std::string page = request.path == "/" ? "overview" : request.path.substr(1);
  const bool is_page = std::find(PageNames().begin(), PageNames().end(), page) != PageNames().end();
  if (!Authorized(request) && is_page) {
    http::Response response = Html(303, "");
    response.headers.emplace_back("Location", "/login?next=" + request.path);
    return response;
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
  if (is_page || request.path == "/api/cluster" || request.path == "/static/chart.js") {
    if (request.method != "GET") return http::JsonError(405, "only GET");
    if (is_page) return HandlePage(page);
    if (request.path == "/static/chart.js") return ServeChartJs();
    auto snapshot = cluster_.Snapshot();
    if (!snapshot.ok()) return ErrorOf(snapshot.status());
    (*snapshot)["history"] = cluster_.History();
    return Json(200, *snapshot);
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
