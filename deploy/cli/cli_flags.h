// deploy/cli/cli_flags.h
//
// The command line of the `lumen` CLI: its commands (start, stop, status)
// and their flags, each defined once in a flag table (deploy/cli/flag_table.h)
// whose setters fill the request of the command; the usage text of every
// command and the flag tables of docs/operations.md are generated from the
// same definitions. Every error is an InvalidArgument whose message is one
// line fit for the user. Thread-safe.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/rpc/tls.h"
#include "deploy/cli/flag_table.h"
#include "deploy/cli/job_request.h"
#include "deploy/cli/logs_command.h"
#include "deploy/cli/state_request.h"
#include "deploy/launcher.h"

namespace lumen::cli {

// `lumen start`.
struct StartRequest {
  deploy::NodeOptions node;
  bool block = false;
  rpc::TlsConfig tls;
  bool port_given = false;  // --port appeared (a head-only flag).
  bool include_dashboard = true;  // --include-dashboard (a head only).
};

// `lumen stop`.
struct StopRequest {
  std::string temp_dir;  // Empty: every Lumen process of the user.
  bool force = false;
};

// `lumen status`.
struct StatusRequest {
  std::string address;  // Empty: $RAY_ADDRESS, then the temp dir's record.
  std::string token_file;
  std::string temp_dir;  // Empty: DefaultTempDir().
  rpc::TlsConfig tls;
};

struct ParsedArgs {
  // "start", "stop", "status"; or "help" (the overview), "version",
  // "help-markdown" (the flag tables of every command).
  std::string command;
  bool help = false;  // `lumen <command> --help`.
  StartRequest start;
  StopRequest stop;
  StatusRequest status;  // Also where list/get/summary/timeline connect.
  StateRequest state;    // list, get, summary, timeline.
  LogsRequest logs;
  JobRequest job;
};

// --address, --token-file, --temp-dir and the TLS flags of `r`.
std::vector<Flag> ClusterFlags(StatusRequest& r);

// Parses argv without argv[0]. "help", "--help" and "-h" give "help".
// No arguments at all is an error (bad usage, exit 2).
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args);

// The usage text of `command` ("" for the overview of all commands).
std::string Usage(const std::string& command);
// After a usage error: the command's synopses and a pointer to its --help
// (the overview for an unknown or missing command).
std::string ShortUsage(const std::string& command);

// The commands, in the order the overview lists them.
std::vector<std::string> CommandNames();

// docs/operations.md's flag tables: a "### lumen <command>" heading and the
// Markdown table of its flags, for every command.
std::string MarkdownFlagTables();

// The start request, checked across flags: exactly one of --head and
// --address; --port on a head only. The launcher checks the rest
// (deploy::StartNode).
absl::StatusOr<StartRequest> ToStartRequest(const ParsedArgs& args);

}  // namespace lumen::cli
