#include "deploy/dashboard/job_info.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <random>
#include <set>

namespace lumen::dashboard {
namespace {

using nlohmann::json;

json OptionalNumber(const std::optional<double>& value) {
  return value ? json(*value) : json(nullptr);
}

// A JSON object of strings; `what` names it in errors.
absl::StatusOr<std::map<std::string, std::string>> StringMap(const json& value,
                                                             const std::string& what) {
  std::map<std::string, std::string> out;
  if (value.is_null()) return out;
  if (!value.is_object()) return absl::InvalidArgumentError(what + " must be a JSON object");
  for (const auto& [key, item] : value.items()) {
    if (!item.is_string()) {
      return absl::InvalidArgumentError(what + "[\"" + key + "\"] must be a string, got " +
                                        item.dump());
    }
    out[key] = item.get<std::string>();
  }
  return out;
}

absl::StatusOr<std::optional<double>> Amount(const json& request, const std::string& field) {
  auto it = request.find(field);
  if (it == request.end() || it->is_null()) return std::optional<double>();
  if (!it->is_number() || it->get<double>() < 0) {
    return absl::InvalidArgumentError(field + " must be a non-negative number, got " + it->dump());
  }
  return std::optional<double>(it->get<double>());
}

absl::Status ParseRuntimeEnv(const json& env, JobInfo& job) {
  if (env.is_null()) return absl::OkStatus();
  if (!env.is_object()) return absl::InvalidArgumentError("runtime_env must be a JSON object");
  for (const auto& [key, value] : env.items()) {
    if (key == "env_vars") {
      auto vars = StringMap(value, "runtime_env.env_vars");
      if (!vars.ok()) return vars.status();
      job.env_vars = *vars;
    } else if (key == "working_dir") {
      if (!value.is_string() || value.get<std::string>().empty() ||
          value.get<std::string>()[0] != '/') {
        return absl::InvalidArgumentError(
            "runtime_env.working_dir must be an absolute directory on the head node, got " +
            value.dump());
      }
      job.working_dir = value.get<std::string>();
    } else {
      return absl::InvalidArgumentError("runtime_env field \"" + key +
                                        "\" is not supported by Lumen (supported: env_vars, "
                                        "working_dir)");
    }
  }
  return absl::OkStatus();
}

}  // namespace

std::string JobStatusName(JobStatus status) {
  switch (status) {
    case JobStatus::kPending: return "PENDING";
    case JobStatus::kRunning: return "RUNNING";
    case JobStatus::kStopped: return "STOPPED";
    case JobStatus::kSucceeded: return "SUCCEEDED";
    case JobStatus::kFailed: return "FAILED";
  }
  return "FAILED";
}

absl::StatusOr<JobStatus> ParseJobStatus(const std::string& name) {
  for (JobStatus s : {JobStatus::kPending, JobStatus::kRunning, JobStatus::kStopped,
                      JobStatus::kSucceeded, JobStatus::kFailed}) {
    if (JobStatusName(s) == name) return s;
  }
  return absl::InvalidArgumentError("unknown job status \"" + name + "\"");
}

bool IsTerminal(JobStatus status) {
  return status == JobStatus::kStopped || status == JobStatus::kSucceeded ||
         status == JobStatus::kFailed;
}

json JobToJson(const JobInfo& job) {
  json env = json::object();
  if (!job.env_vars.empty()) env["env_vars"] = job.env_vars;
  if (!job.working_dir.empty()) env["working_dir"] = job.working_dir;
  return json{
      {"type", "SUBMISSION"},
      {"job_id", nullptr},
      {"submission_id", job.submission_id},
      {"driver_info", nullptr},
      {"status", JobStatusName(job.status)},
      {"entrypoint", job.entrypoint},
      {"message", job.message},
      {"error_type", nullptr},
      {"start_time", job.start_time_ms == 0 ? json(nullptr) : json(job.start_time_ms)},
      {"end_time", job.end_time_ms == 0 ? json(nullptr) : json(job.end_time_ms)},
      {"metadata", job.metadata},
      {"runtime_env", env},
      {"driver_agent_http_address", nullptr},
      {"driver_node_id", job.driver_node_id},
      {"driver_exit_code", job.driver_exit_code ? json(*job.driver_exit_code) : json(nullptr)},
      {"entrypoint_num_cpus", OptionalNumber(job.entrypoint_num_cpus)},
      {"entrypoint_num_gpus", OptionalNumber(job.entrypoint_num_gpus)},
      {"entrypoint_memory", OptionalNumber(job.entrypoint_memory)},
      {"entrypoint_resources", job.entrypoint_resources},
      {"supervisor_pid", job.supervisor_pid},
      {"log_path", job.log_path},
  };
}

absl::StatusOr<JobInfo> JobFromJson(const std::string& text) {
  try {
    const json in = json::parse(text);
    JobInfo job;
    job.submission_id = in.at("submission_id").get<std::string>();
    job.entrypoint = in.at("entrypoint").get<std::string>();
    auto status = ParseJobStatus(in.at("status").get<std::string>());
    if (!status.ok()) return status.status();
    job.status = *status;
    job.message = in.value("message", "");
    if (in.contains("start_time") && in["start_time"].is_number()) {
      job.start_time_ms = in["start_time"].get<int64_t>();
    }
    if (in.contains("end_time") && in["end_time"].is_number()) {
      job.end_time_ms = in["end_time"].get<int64_t>();
    }
    job.metadata = in.value("metadata", std::map<std::string, std::string>());
    const json env = in.value("runtime_env", json::object());
    job.env_vars = env.value("env_vars", std::map<std::string, std::string>());
    job.working_dir = env.value("working_dir", "");
    auto number = [&](const char* field) -> std::optional<double> {
      if (in.contains(field) && in[field].is_number()) return in[field].get<double>();
      return std::nullopt;
    };
    job.entrypoint_num_cpus = number("entrypoint_num_cpus");
    job.entrypoint_num_gpus = number("entrypoint_num_gpus");
    job.entrypoint_memory = number("entrypoint_memory");
    job.entrypoint_resources = in.value("entrypoint_resources", std::map<std::string, double>());
    if (in.contains("driver_exit_code") && in["driver_exit_code"].is_number()) {
      job.driver_exit_code = in["driver_exit_code"].get<int>();
    }
    job.supervisor_pid = in.value("supervisor_pid", 0);
    job.driver_node_id = in.value("driver_node_id", "");
    job.log_path = in.value("log_path", "");
    return job;
  } catch (const json::exception& e) {
    return absl::DataLossError(std::string("a stored job is not valid: ") + e.what());
  }
}

absl::StatusOr<JobInfo> ParseSubmitRequest(const std::string& body) {
  json request;
  try {
    request = json::parse(body);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(std::string("malformed JSON body: ") + e.what());
  }
  if (!request.is_object()) {
    return absl::InvalidArgumentError("the request body must be a JSON object, got " +
                                      std::string(request.type_name()));
  }
  static const std::set<std::string> kKnown = {
      "entrypoint", "submission_id", "job_id", "runtime_env", "metadata",
      "entrypoint_num_cpus", "entrypoint_num_gpus", "entrypoint_memory", "entrypoint_resources"};
  for (const auto& [key, value] : request.items()) {
    if (kKnown.count(key) == 0) {
      return absl::InvalidArgumentError("unknown field \"" + key + "\" in the submit request");
    }
  }
  JobInfo job;
  auto entrypoint = request.find("entrypoint");
  if (entrypoint == request.end() || !entrypoint->is_string() ||
      entrypoint->get<std::string>().empty()) {
    return absl::InvalidArgumentError("entrypoint (a non-empty string, the command to run) is "
                                      "required");
  }
  job.entrypoint = entrypoint->get<std::string>();
  for (const char* field : {"submission_id", "job_id"}) {
    auto it = request.find(field);
    if (it == request.end() || it->is_null()) continue;
    if (!it->is_string()) return absl::InvalidArgumentError(std::string(field) + " must be a string");
    if (!job.submission_id.empty() && job.submission_id != it->get<std::string>()) {
      return absl::InvalidArgumentError("submission_id and job_id differ");
    }
    job.submission_id = it->get<std::string>();
    if (absl::Status s = CheckSubmissionId(job.submission_id); !s.ok()) return s;
  }
  if (absl::Status s = ParseRuntimeEnv(request.value("runtime_env", json()), job); !s.ok()) {
    return s;
  }
  auto metadata = StringMap(request.value("metadata", json()), "metadata");
  if (!metadata.ok()) return metadata.status();
  job.metadata = *metadata;
  auto cpus = Amount(request, "entrypoint_num_cpus");
  auto gpus = Amount(request, "entrypoint_num_gpus");
  auto memory = Amount(request, "entrypoint_memory");
  for (const auto* amount : {&cpus, &gpus, &memory}) {
    if (!amount->ok()) return amount->status();
  }
  job.entrypoint_num_cpus = *cpus;
  job.entrypoint_num_gpus = *gpus;
  job.entrypoint_memory = *memory;
  const json resources = request.value("entrypoint_resources", json::object());
  if (!resources.is_object()) {
    return absl::InvalidArgumentError("entrypoint_resources must be a JSON object");
  }
  for (const auto& [name, value] : resources.items()) {
    if (!value.is_number() || value.get<double>() < 0) {
      return absl::InvalidArgumentError("entrypoint_resources[\"" + name +
                                        "\"] must be a non-negative number");
    }
    job.entrypoint_resources[name] = value.get<double>();
  }
  return job;
}

absl::Status CheckSubmissionId(const std::string& id) {
  const bool bad_char = id.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "0123456789_.-") != std::string::npos;
  if (id.empty() || id.size() > 128 || bad_char || id == "." || id == "..") {
    return absl::InvalidArgumentError("submission id \"" + id +
                                      "\" must be 1 to 128 of A-Z a-z 0-9 _ . -");
  }
  return absl::OkStatus();
}

std::string NewSubmissionId() {
  static const char kChars[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
  std::random_device device;
  std::string id = "raysubmit_";
  for (int i = 0; i < 16; ++i) id += kChars[device() % (sizeof(kChars) - 1)];
  return id;
}

std::string DescribeExit(int wait_status, int* exit_code) {
  if (WIFSIGNALED(wait_status)) {
    const int sig = WTERMSIG(wait_status);
    *exit_code = 128 + sig;
    return "Job entrypoint command was killed by signal " + std::to_string(sig) + " (" +
           strsignal(sig) + ")";
  }
  *exit_code = WEXITSTATUS(wait_status);
  if (*exit_code == 0) return "Job finished successfully.";
  std::string message = "Job entrypoint command failed with exit code " +
                        std::to_string(*exit_code);
  if (*exit_code > 128 && *exit_code < 128 + NSIG) {  // The shell's way to say "a signal".
    message += " (killed by signal " + std::to_string(*exit_code - 128) + ", " +
               strsignal(*exit_code - 128) + ")";
  }
  return message;
}

}  // namespace lumen::dashboard
