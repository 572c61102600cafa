// deploy/cli/job_request.h
//
// `lumen job submit|status|logs|stop|list|delete` (docs/dashboard.md): the
// Jobs CLI, which talks HTTP to lumen-dashboard's Jobs REST API with the
// cluster token as a Bearer token. The dashboard is found at --address
// (http://host:port), else $RAY_ADDRESS when it is an http:// URL, else
// $RAY_DASHBOARD_ADDRESS, else the address the head's dashboard recorded in
// <temp-dir>/session_latest/dashboard_address.
// `submit` streams the job's log and exits 0 when the job SUCCEEDED, 1
// otherwise (with --no-wait: 0 once submitted). Errors: one line on stderr,
// exit 1 (2 for bad usage).
#pragma once

#include <string>
#include <vector>

#include "deploy/cli/flag_table.h"

namespace lumen::cli {

struct JobRequest {
  std::vector<std::string> words;       // {"submit"}, {"status", ID}, ...
  std::vector<std::string> entrypoint;  // submit: the words after "--".
  std::string address;
  std::string submission_id;
  std::string runtime_env_json;
  std::string working_dir;
  std::string metadata_json;
  bool no_wait = false;
  bool follow = false;
  std::string token_file;
  std::string temp_dir;
};

CommandSpec JobSpec(JobRequest& request);

// Moves the words after a "--" of `args` into request.entrypoint.
void SplitEntrypoint(std::vector<std::string>& args, JobRequest& request);

int RunJob(const JobRequest& request);

// The entrypoint command line: the words, quoted for sh where needed.
std::string ShellJoin(const std::vector<std::string>& words);

}  // namespace lumen::cli
