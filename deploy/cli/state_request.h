// deploy/cli/state_request.h
//
// The state commands of the `lumen` CLI (docs/observability.md): `list`,
// `get`, `summary` and `timeline`, in the spirit of Ray's state API. Their
// request (filled by the flag table of StateSpecs) and their entry points
// (deploy/cli/state_commands.cc). They reach the cluster as `lumen status`
// does: --address, else $RAY_ADDRESS, else the head recorded in the temp dir.
// Each prints what was asked on stdout and one line per error on stderr,
// and returns the exit code (0, 1 failure, 2 bad usage).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "deploy/cli/flag_table.h"

namespace lumen::cli {

struct StatusRequest;

struct StateRequest {
  std::vector<std::string> words;    // `list tasks` -> {"tasks"}; `get actors ID` -> {"actors", ID}.
  std::vector<std::string> filters;  // "key=value" or "key!=value", all must hold.
  int64_t limit = 100;
  bool detail = false;
  std::string format;  // table (default), json, yaml; with --detail, yaml by default.
  std::string job;     // timeline: only this job (hex id).
  std::string output;  // timeline: the trace file.
};

// The flag tables of list, get, summary and timeline; their connection
// flags write into `target`.
std::vector<CommandSpec> StateSpecs(StateRequest& request, StatusRequest& target);

int RunList(const StateRequest& request, const StatusRequest& target);
int RunGet(const StateRequest& request, const StatusRequest& target);
int RunSummary(const StateRequest& request, const StatusRequest& target);
int RunTimeline(const StateRequest& request, const StatusRequest& target);
// `lumen memory`, `lumen list objects`, `lumen summary objects`
// (deploy/cli/memory_commands.cc).
int RunMemory(const StateRequest& request, const StatusRequest& target);
int RunListObjects(const StateRequest& request, const StatusRequest& target);
int RunSummaryObjects(const StateRequest& request, const StatusRequest& target);

}  // namespace lumen::cli
