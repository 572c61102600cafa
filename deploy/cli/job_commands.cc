// `lumen job ...`: the Jobs CLI over the dashboard's REST API
// (deploy/cli/job_request.h, docs/dashboard.md).
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/http_client.h"
#include "common/paths.h"
#include "common/rpc/auth.h"
#include "deploy/cli/job_request.h"

namespace lumen::cli {
namespace {

using nlohmann::json;

int Fail(const std::string& message) {
  std::cerr << "lumen job: " << message << std::endl;
  return 1;
}

// Where the dashboard is, in the order of job_request.h.
absl::StatusOr<std::string> DashboardAddress(const JobRequest& r) {
  if (!r.address.empty()) return http::HostPortOfUrl(r.address);
  const char* ray_address = std::getenv("RAY_ADDRESS");
  if (ray_address != nullptr && std::string(ray_address).rfind("http://", 0) == 0) {
    return http::HostPortOfUrl(ray_address);
  }
  if (const char* env = std::getenv("RAY_DASHBOARD_ADDRESS"); env != nullptr && *env != '\0') {
    return http::HostPortOfUrl(env);
  }
  const std::string temp_dir = r.temp_dir.empty() ? DefaultTempDir() : r.temp_dir;
  // session_latest is a link (which ReadOwnedPrivateFile refuses) to a
  // session directory of the same temp dir.
  std::error_code ec;
  const std::filesystem::path session =
      std::filesystem::read_symlink(temp_dir + "/session_latest", ec);
  const std::string record = temp_dir + "/" + session.filename().string() + "/dashboard_address";
  absl::StatusOr<std::string> recorded = absl::NotFoundError("no session_latest link");
  if (!ec && session.filename().string().rfind("session_", 0) == 0) {
    recorded = ReadOwnedPrivateFile(record);
  }
  if (!recorded.ok()) {
    return absl::NotFoundError("no dashboard found: none recorded in " + record + " (" +
                               std::string(recorded.status().message()) +
                               "); start a head with `lumen start --head` or pass --address "
                               "http://HOST:PORT");
  }
  std::string address = *recorded;
  while (!address.empty() && (address.back() == '\n' || address.back() == ' ')) address.pop_back();
  return address;
}

// One request with the token; the answer's JSON, or an error with the
// dashboard's own message for a non-2xx answer.
class Dashboard {
 public:
  Dashboard(std::string address, std::string token)
      : address_(std::move(address)), token_(std::move(token)) {}

  absl::StatusOr<json> Call(const std::string& method, const std::string& target,
                            const std::string& body = "") const {
    http::ClientRequest request = Request(method, target);
    request.body = body;
    auto result = http::Fetch(address_, request);
    if (!result.ok()) {
      return absl::UnavailableError("cannot reach the dashboard at http://" + address_ + ": " +
                                    std::string(result.status().message()));
    }
    json answer = json::parse(result->body, nullptr, /*allow_exceptions=*/false);
    if (result->status / 100 != 2) {
      std::string message = answer.is_object() && answer.contains("error")
                                ? answer["error"].get<std::string>()
                                : result->body;
      return absl::FailedPreconditionError("the dashboard answered " +
                                           std::to_string(result->status) + ": " + message);
    }
    if (answer.is_discarded()) {
      return absl::DataLossError("the dashboard's answer is not JSON: " + result->body);
    }
    return answer;
  }

  // Prints the job's log to stdout: what there is, or (follow) until the
  // job ends.
  absl::Status PrintLogs(const std::string& id, bool follow) const {
    if (!follow) {
      auto logs = Call("GET", "/api/jobs/" + id + "/logs");
      if (!logs.ok()) return logs.status();
      std::cout << logs->value("logs", "") << std::flush;
      return absl::OkStatus();
    }
    http::ClientRequest request = Request("GET", "/api/jobs/" + id + "/logs/tail");
    request.timeout_ms = 0;
    request.on_chunk = [](std::string_view piece) { std::cout << piece << std::flush; };
    auto result = http::Fetch(address_, request);
    if (!result.ok()) return result.status();
    if (result->status != 200) {
      return absl::FailedPreconditionError("the dashboard answered " +
                                           std::to_string(result->status) + ": " + result->body);
    }
    std::cout << result->body << std::flush;
    return absl::OkStatus();
  }

 private:
  http::ClientRequest Request(const std::string& method, const std::string& target) const {
    http::ClientRequest request;
    request.method = method;
    request.target = target;
    request.headers["Authorization"] = "Bearer " + token_;
    request.headers["Content-Type"] = "application/json";
    return request;
  }

  std::string address_;
  std::string token_;
};

absl::StatusOr<json> SubmitBody(const JobRequest& r) {
  json body = {{"entrypoint", ShellJoin(r.entrypoint)}};
  if (!r.submission_id.empty()) body["submission_id"] = r.submission_id;
  json env = json::object();
  if (!r.runtime_env_json.empty()) {
    env = json::parse(r.runtime_env_json, nullptr, false);
    if (env.is_discarded() || !env.is_object()) {
      return absl::InvalidArgumentError("--runtime-env-json must be a JSON object, got " +
                                        r.runtime_env_json);
    }
  }
  if (!r.working_dir.empty()) {
    env["working_dir"] = std::filesystem::absolute(r.working_dir).lexically_normal().string();
  } else if (!env.contains("working_dir")) {
    env["working_dir"] = std::filesystem::current_path().string();
  }
  body["runtime_env"] = env;
  if (!r.metadata_json.empty()) {
    json metadata = json::parse(r.metadata_json, nullptr, false);
    if (metadata.is_discarded()) {
      return absl::InvalidArgumentError("--metadata-json is not JSON: " + r.metadata_json);
    }
    body["metadata"] = metadata;
  }
  return body;
}

// Polls the job until it is terminal (or `timeout_ms` passes).
absl::StatusOr<json> WaitForEnd(const Dashboard& dashboard, const std::string& id,
                                int timeout_ms) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    auto job = dashboard.Call("GET", "/api/jobs/" + id);
    if (!job.ok()) return job.status();
    const std::string status = job->value("status", "");
    if (status == "SUCCEEDED" || status == "FAILED" || status == "STOPPED") return job;
    if (std::chrono::steady_clock::now() >= give_up) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

int Submit(const Dashboard& dashboard, const JobRequest& r) {
  if (r.entrypoint.empty()) {
    std::cerr << "lumen job submit: give the command after --, e.g. `lumen job submit -- "
                 "./my_driver`\n";
    return 2;
  }
  auto body = SubmitBody(r);
  if (!body.ok()) return Fail(std::string(body.status().message()));
  auto submitted = dashboard.Call("POST", "/api/jobs/", body->dump());
  if (!submitted.ok()) return Fail(std::string(submitted.status().message()));
  const std::string id = submitted->value("submission_id", "");
  std::cerr << "Job '" << id << "' submitted successfully\n";
  if (r.no_wait) {
    std::cout << id << std::endl;
    return 0;
  }
  if (absl::Status s = dashboard.PrintLogs(id, true); !s.ok()) {
    return Fail("following the log: " + std::string(s.message()));
  }
  auto job = WaitForEnd(dashboard, id, 10000);
  if (!job.ok()) return Fail(std::string(job.status().message()));
  const std::string status = job->value("status", "");
  std::cerr << "Job '" << id << "' " << status << ": " << job->value("message", "") << "\n";
  return status == "SUCCEEDED" ? 0 : 1;
}

void PrintTable(const json& jobs) {
  std::cout << "SUBMISSION_ID                    STATUS     ENTRYPOINT\n";
  for (const json& job : jobs) {
    std::string id = job.value("submission_id", "");
    std::string status = job.value("status", "");
    id.resize(std::max<size_t>(id.size(), 32), ' ');
    status.resize(std::max<size_t>(status.size(), 10), ' ');
    std::cout << id << " " << status << " " << job.value("entrypoint", "") << "\n";
  }
}

int RunWithId(const Dashboard& dashboard, const JobRequest& r, const std::string& verb,
              const std::string& id) {
  if (verb == "logs") {
    absl::Status s = dashboard.PrintLogs(id, r.follow);
    return s.ok() ? 0 : Fail(std::string(s.message()));
  }
  absl::StatusOr<json> answer =
      verb == "status" ? dashboard.Call("GET", "/api/jobs/" + id)
      : verb == "stop" ? dashboard.Call("POST", "/api/jobs/" + id + "/stop")
                       : dashboard.Call("DELETE", "/api/jobs/" + id);
  if (!answer.ok()) return Fail(std::string(answer.status().message()));
  if (verb == "status") {
    std::cout << "Status for job '" << id << "': " << answer->value("status", "") << "\n"
              << "Status message: " << answer->value("message", "") << "\n";
  } else if (verb == "delete") {
    std::cout << "Job '" << id << "' deleted\n";
  } else {
    if (!answer->value("stopped", false)) {
      std::cout << "Job '" << id << "' was not running\n";
      return 0;
    }
    std::cout << "Job '" << id << "' is being stopped\n";
    if (r.no_wait) return 0;
    auto job = WaitForEnd(dashboard, id, 30000);
    if (!job.ok()) return Fail(std::string(job.status().message()));
    std::cout << "Job '" << id << "' " << job->value("status", "") << "\n";
  }
  return 0;
}

}  // namespace

std::string ShellJoin(const std::vector<std::string>& words) {
  std::string out;
  for (const std::string& word : words) {
    if (!out.empty()) out += ' ';
    const bool plain = !word.empty() &&
                       word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                              "0123456789_-./=:,+@%") == std::string::npos;
    if (plain) {
      out += word;
      continue;
    }
    out += '\'';
    for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    out += '\'';
  }
  return out;
}

int RunJob(const JobRequest& r) {
  static const char kUsage[] =
      "usage: lumen job submit|status|logs|stop|list|delete ... (see `lumen job --help`)\n";
  if (r.words.empty()) {
    std::cerr << kUsage;
    return 2;
  }
  const std::string& verb = r.words[0];
  const bool takes_id = verb == "status" || verb == "logs" || verb == "stop" || verb == "delete";
  const size_t expected = takes_id ? 2 : 1;
  if ((!takes_id && verb != "submit" && verb != "list") || r.words.size() != expected ||
      (verb != "submit" && !r.entrypoint.empty())) {
    std::cerr << kUsage;
    return 2;
  }
  auto address = DashboardAddress(r);
  if (!address.ok()) return Fail(std::string(address.status().message()));
  auto token = rpc::FindToken(r.token_file);
  if (!token.ok()) return Fail("no cluster token: " + std::string(token.status().message()));
  Dashboard dashboard(*address, *token);
  if (verb == "submit") return Submit(dashboard, r);
  if (verb == "list") {
    auto jobs = dashboard.Call("GET", "/api/jobs/");
    if (!jobs.ok()) return Fail(std::string(jobs.status().message()));
    PrintTable(*jobs);
    return 0;
  }
  return RunWithId(dashboard, r, verb, r.words[1]);
}

}  // namespace lumen::cli
