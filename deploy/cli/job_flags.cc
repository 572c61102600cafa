// The flag table of `lumen job` (deploy/cli/job_request.h).
#include <algorithm>

#include "deploy/cli/job_request.h"

namespace lumen::cli {
namespace {

std::function<absl::Status(const std::string&)> Store(std::string& out) {
  return [&out](const std::string& value) {
    out = value;
    return absl::OkStatus();
  };
}

std::function<absl::Status(const std::string&)> Switch(bool& out) {
  return [&out](const std::string& value) {
    out = value == "true";
    return absl::OkStatus();
  };
}

}  // namespace

CommandSpec JobSpec(JobRequest& r) {
  CommandSpec spec{
      "job",
      "submit and manage jobs through the dashboard (Ray's Jobs CLI)",
      {"submit [--submission-id ID] [--runtime-env-json JSON] [--working-dir DIR] [--no-wait] -- "
       "COMMAND [ARGS...]",
       "status|stop|delete ID", "logs ID [--follow]", "list"},
      "Runs COMMAND on the head node under the dashboard's supervisor, with RAY_ADDRESS set to "
      "the cluster, its output kept in <session>/logs/job-driver-ID.log; submit streams that log "
      "and exits 0 when the job succeeded, 1 otherwise. The dashboard is found at --address, "
      "else $RAY_ADDRESS when it is an http:// URL, else $RAY_DASHBOARD_ADDRESS, else the head "
      "recorded in the temp dir.",
      {
          {"address", "URL", "the local head's dashboard", "the dashboard, http://HOST:PORT",
           Store(r.address)},
          {"submission-id", "ID", "raysubmit_ and 16 random characters",
           "submit: the job's id (A-Z a-z 0-9 _ . -); taken ids are refused",
           Store(r.submission_id)},
          {"runtime-env-json", "JSON", "",
           "submit: {\"env_vars\": {...}, \"working_dir\": \"/abs/dir\"}", Store(r.runtime_env_json)},
          {"working-dir", "DIR", "the current directory",
           "submit: where COMMAND runs (a directory on the head node)", Store(r.working_dir)},
          {"metadata-json", "JSON", "", "submit: a JSON object of strings kept with the job",
           Store(r.metadata_json)},
          {"no-wait", "", "", "submit, stop: return at once instead of following the job",
           Switch(r.no_wait)},
          {"follow", "", "", "logs: keep printing the log until the job ends", Switch(r.follow)},
          {"token-file", "F", "$LUMEN_TOKEN, else $LUMEN_TOKEN_FILE, else ~/.lumen/token",
           "the cluster token's file", Store(r.token_file)},
          {"temp-dir", "DIR", "$LUMEN_TEMP_DIR, else /tmp/lumen-<uid>",
           "where the head's dashboard address is recorded", Store(r.temp_dir)},
      },
      &r.words};
  spec.flags[6].short_name = "f";
  return spec;
}

void SplitEntrypoint(std::vector<std::string>& args, JobRequest& request) {
  auto dashes = std::find(args.begin(), args.end(), "--");
  if (dashes == args.end()) return;
  request.entrypoint.assign(dashes + 1, args.end());
  args.erase(dashes, args.end());
}

}  // namespace lumen::cli
