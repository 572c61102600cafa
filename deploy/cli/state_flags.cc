// The flag tables of `lumen list`, `get`, `summary`, `timeline` and `memory`.
#include <string>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "deploy/cli/cli_flags.h"
#include "deploy/cli/state_request.h"

namespace lumen::cli {
namespace {

Flag FormatFlag(StateRequest& r, std::string shown_default = "table (yaml with --detail)") {
  return {"format", "F", std::move(shown_default), "table, json or yaml",
          [&r](const std::string& value) {
            std::string format = absl::AsciiStrToLower(value);
            if (format != "table" && format != "json" && format != "yaml") {
              return absl::InvalidArgumentError("--format must be table, json or yaml, got \"" + value + "\"");
            }
            r.format = format;
            return absl::OkStatus();
          }};
}

std::vector<Flag> ListFlags(StateRequest& r) {
  return {
      {"filter", "KEY=VALUE", "",
       "only what matches: KEY=VALUE or KEY!=VALUE on a column (e.g. state=FAILED); repeat for more (all must hold)",
       [&r](const std::string& value) {
         r.filters.push_back(value);
         return absl::OkStatus();
       }},
      {"limit", "N", "100", "show at most N entries (the most recent ones)",
       [&r](const std::string& value) {
         if (!absl::SimpleAtoi(value, &r.limit) || r.limit < 1) {
           return absl::InvalidArgumentError("--limit must be a positive number, got \"" + value + "\"");
         }
         return absl::OkStatus();
       }},
      {"detail", "", "", "every field, not only the table's columns", [&r](const std::string& value) {
         r.detail = value == "true";
         return absl::OkStatus();
       }},
      FormatFlag(r),
  };
}

CommandSpec WithCluster(CommandSpec spec, StatusRequest& target) {
  for (Flag& flag : ClusterFlags(target)) spec.flags.push_back(std::move(flag));
  return spec;
}

}  // namespace

std::vector<CommandSpec> StateSpecs(StateRequest& r, StatusRequest& target) {
  CommandSpec list{"list",
                   "list nodes, jobs, actors, tasks, workers, placement groups or objects",
                   {"nodes|jobs|actors|tasks|workers|placement-groups|objects [--filter K=V] [--limit N] [flags]"},
                   "Lists one kind of the cluster's state, like `ray list`: a table that fits 80 columns "
                   "(ids cut short), or every field with --detail. Tasks come from the task events that "
                   "workers and drivers send to the GCS (docs/observability.md).",
                   ListFlags(r), &r.words};
  CommandSpec get{"get",
                  "show one node, job, actor or task by id",
                  {"nodes|jobs|actors|tasks ID [flags]"},
                  "Shows every field of one entry; ID may be a unique prefix of the hex id.",
                  {FormatFlag(r)}, &r.words};
  CommandSpec summary{"summary",
                      "count tasks or actors by function or class and state, or object refs",
                      {"tasks|actors|objects [flags]"},
                      "Counts the cluster's tasks (by function) or actors (by class) in each state, like "
                      "`ray summary`.",
                      {FormatFlag(r)}, &r.words};
  CommandSpec timeline{"timeline",
                       "write the task events as a Chrome trace",
                       {"[--job ID] -o trace.json [flags]"},
                       "Writes the tasks' and actor calls' run times as a Chrome trace (the trace event "
                       "format: chrome://tracing, https://ui.perfetto.dev): one row per worker process, one "
                       "slice per task, an arrow from the submitting process to the executing one.",
                       {{"job", "ID", "", "only this job's tasks (hex id, as `lumen list jobs` shows)",
                         [&r](const std::string& value) {
                           r.job = value;
                           return absl::OkStatus();
                         }},
                        {"output", "F", "", "the trace file to write (also -o)",
                         [&r](const std::string& value) {
                           r.output = value;
                           return absl::OkStatus();
                         },
                         "o"}}};
  CommandSpec memory{"memory",
                     "show the object refs every worker and driver holds, and why",
                     {"[--format table|json] [flags]"},
                     "Asks every worker and driver of every node for the object refs it holds, like "
                     "`ray memory`: one table per process (node ip, pid) with each object's size, where its "
                     "value lives (in-process or plasma) and why it is held (PINNED_IN_MEMORY, "
                     "LOCAL_REFERENCE, USED_BY_PENDING_TASK, USED_BY_LINEAGE, CAPTURED_IN_OBJECT, BORROWED), then the "
                     "totals. `lumen list objects` "
                     "gives the same rows with every field.",
                     {FormatFlag(r, "table")}, &r.words};
  return {WithCluster(std::move(list), target), WithCluster(std::move(get), target),
          WithCluster(std::move(summary), target), WithCluster(std::move(timeline), target),
          WithCluster(std::move(memory), target)};
}

}  // namespace lumen::cli
