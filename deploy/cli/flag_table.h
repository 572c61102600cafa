// deploy/cli/flag_table.h
//
// A small flag table for the subcommands of the `lumen` CLI: each flag is
// defined once (name, value name, default, help, setter), and everything the
// user reads about it is generated from that definition: `lumen <cmd>
// --help`, the error for an unknown flag, and the Markdown tables of
// docs/operations.md (`lumen --help-markdown`; tests/cli_flags_doc_test.sh
// fails when the docs and the binary disagree). gflags and absl flags keep
// one global set per process; a subcommand needs its own set, hence this.
//
// Syntax: `--flag value` or `--flag=value`; underscores are accepted for
// dashes (like Ray's CLI); a switch takes no value or `=true`/`=false`;
// `-h`/`--help` anywhere asks for the usage. Every error is an
// InvalidArgument whose message is one line fit for the user.
// Thread-safe (no state beyond the objects the setters write to).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"

namespace lumen::cli {

struct Flag {
  std::string name;          // Without dashes: "num-cpus".
  std::string value_name;    // "N"; empty for a switch.
  std::string default_text;  // Shown as "(default: ...)"; empty: none shown.
  std::string help;          // One or more sentences; wrapped when printed.
  // Receives the value ("true"/"false" for a switch) and stores it; an error
  // message names the problem with the value (the caller adds nothing).
  std::function<absl::Status(const std::string& value)> set;
  std::string short_name;  // "o" accepts `-o value` too; empty: none.

  bool is_switch() const { return value_name.empty(); }
};

struct CommandSpec {
  std::string name;                   // "start".
  std::string summary;                // One line, for `lumen --help`.
  std::vector<std::string> synopses;  // "--head [--port 6379] [flags]", after "lumen <name> ".
  std::string description;            // Printed after the synopses; may be empty.
  std::vector<Flag> flags;
  // Where words that are not flags go (`lumen list tasks`); null: such a
  // word is an error.
  std::vector<std::string>* positionals = nullptr;
};

// Parses `args` (the words after the command name) with `spec`'s setters.
// `help` is set when -h/--help was given (the other words are still checked).
absl::Status ParseFlags(const CommandSpec& spec, const std::vector<std::string>& args, bool& help);

// `lumen <name> --help`: synopses, description, then one entry per flag.
std::string UsageText(const CommandSpec& spec);
// What follows a usage error: the synopses and where the flags are told.
std::string ShortUsageText(const CommandSpec& spec);

// The flag table of `spec` in Markdown: | flag | default | meaning |.
std::string MarkdownTable(const CommandSpec& spec);

// Wraps `text` to `width` columns, every line after the first indented by
// `indent` spaces (the first is the caller's).
std::string Wrap(const std::string& text, size_t first_width, size_t width, size_t indent);

}  // namespace lumen::cli
