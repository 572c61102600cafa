// deploy/cli/cli_flags.h
//
// Command-line parsing of the `lumen` CLI, as pure functions: the verb
// (start, stop, status), its flags in either `--flag value` or `--flag=value`
// form (underscores accepted for dashes, like Ray's CLI), and the conversion
// of `lumen start` flags into launcher NodeOptions. Every error is an
// InvalidArgument whose message is one line fit for the user. Thread-safe.
#pragma once

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "deploy/launcher.h"

namespace lumen::cli {

struct ParsedArgs {
  std::string command;                        // "start", "stop", "status", "help".
  std::map<std::string, std::string> values;  // "port" -> "6379" (names without dashes).
  std::set<std::string> switches;             // "head", "block", "force".
  bool help = false;                          // --help / -h was given.

  bool Has(const std::string& name) const { return values.count(name) || switches.count(name); }
  std::string Value(const std::string& name, const std::string& fallback = "") const {
    auto it = values.find(name);
    return it == values.end() ? fallback : it->second;
  }
};

// Parses argv without argv[0]. No arguments or "help" gives command "help".
absl::StatusOr<ParsedArgs> ParseArgs(const std::vector<std::string>& args);

// The usage text of `command` ("" for the overview).
std::string Usage(const std::string& command);

struct StartRequest {
  deploy::NodeOptions node;
  bool block = false;
};

// Turns parsed `lumen start` flags into launcher options. Exactly one of
// --head and --address must be given.
absl::StatusOr<StartRequest> ToStartRequest(const ParsedArgs& args);

}  // namespace lumen::cli
