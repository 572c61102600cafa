// lumen: the command-line interface. Parses the command line (its flags are
// defined once, in deploy/cli/cli_flags.cc) and hands over to
// deploy/cli/commands.h; see `lumen --help` and docs/operations.md.
#include <iostream>
#include <string>
#include <vector>

#include "common/logging.h"
#include "common/rpc/tls.h"
#include "deploy/cli/cli_flags.h"
#include "deploy/cli/commands.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  absl::StatusOr<lumen::cli::ParsedArgs> parsed = lumen::cli::ParseArgs(args);
  if (!parsed.ok()) {  // Bad usage, as documented: the error, the synopsis, exit 2.
    const std::string command = args.empty() ? "" : args[0];
    std::cerr << "lumen: " << parsed.status().message() << "\n" << lumen::cli::ShortUsage(command);
    return 2;
  }
  const std::string& command = parsed->command;
  if (command == "version") {
    std::cout << "lumen " << LUMEN_VERSION << std::endl;
    return 0;
  }
  if (command == "help-markdown") {
    std::cout << lumen::cli::MarkdownFlagTables();
    return 0;
  }
  if (command == "help" || parsed->help) {
    std::cout << lumen::cli::Usage(command == "help" ? "" : command);
    return 0;
  }
  // Before any thread exists, so that gRPC's threads inherit the mask and
  // `--block` can wait for the signals synchronously.
  if (command == "start" && parsed->start.block) lumen::cli::BlockTerminationSignals();
  FLAGS_minloglevel = 2;  // The CLI reports errors itself; keep glog quiet.
  // Before any thread exists: TLS settings go to the environment, where the
  // daemons `lumen start` launches find them.
  const bool state_command =
      command == "list" || command == "get" || command == "summary" || command == "timeline" || command == "memory";
  if (command == "start" || command == "status" || command == "logs" || state_command) {
    absl::Status tls =
        lumen::rpc::InitProcessTls(command == "start" ? parsed->start.tls : parsed->status.tls);
    if (!tls.ok()) {
      std::cerr << "lumen " << command << ": " << tls.message() << std::endl;
      return 2;
    }
  }
  if (command == "start") return lumen::cli::RunStart(*parsed);
  if (command == "stop") return lumen::cli::RunStop(parsed->stop);
  if (command == "job") return lumen::cli::RunJob(parsed->job);
  const bool objects = !parsed->state.words.empty() && parsed->state.words[0] == "objects";
  if (command == "memory") return lumen::cli::RunMemory(parsed->state, parsed->status);
  if (command == "list" && objects) return lumen::cli::RunListObjects(parsed->state, parsed->status);
  if (command == "summary" && objects) return lumen::cli::RunSummaryObjects(parsed->state, parsed->status);
  if (command == "list") return lumen::cli::RunList(parsed->state, parsed->status);
  if (command == "get") return lumen::cli::RunGet(parsed->state, parsed->status);
  if (command == "summary") return lumen::cli::RunSummary(parsed->state, parsed->status);
  if (command == "timeline") return lumen::cli::RunTimeline(parsed->state, parsed->status);
  if (command == "logs") return lumen::cli::RunLogs(parsed->logs, parsed->status);
  return lumen::cli::RunStatus(parsed->status);
}
