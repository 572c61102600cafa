// lumen: the command-line interface. Parses the verb and hands over to
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
  if (args.empty()) {  // Bad usage, as documented: exit 2.
    std::cerr << lumen::cli::Usage("");
    return 2;
  }
  absl::StatusOr<lumen::cli::ParsedArgs> parsed = lumen::cli::ParseArgs(args);
  if (!parsed.ok()) {
    std::cerr << "lumen: " << parsed.status().message() << std::endl;
    return 2;
  }
  // Before any thread exists, so that gRPC's threads inherit the mask and
  // `--block` can wait for the signals synchronously.
  if (parsed->command == "start" && parsed->switches.count("block")) {
    lumen::cli::BlockTerminationSignals();
  }
  FLAGS_minloglevel = 2;  // The CLI reports errors itself; keep glog quiet.
  // Before any thread exists: TLS settings go to the environment, where the
  // daemons `lumen start` launches find them.
  if (parsed->command == "start" || parsed->command == "status") {
    absl::Status tls = lumen::rpc::InitProcessTls(
        {parsed->Value("tls-cert"), parsed->Value("tls-key"), parsed->Value("tls-ca")});
    if (!tls.ok()) {
      std::cerr << "lumen " << parsed->command << ": " << tls.message() << std::endl;
      return 2;
    }
  }
  if (parsed->command == "start") return lumen::cli::RunStart(*parsed);
  if (parsed->command == "stop") return lumen::cli::RunStop(*parsed);
  if (parsed->command == "status") return lumen::cli::RunStatus(*parsed);
  if (parsed->command == "version") {
    std::cout << "lumen " << LUMEN_VERSION << std::endl;
    return 0;
  }
  std::cout << lumen::cli::Usage("");
  return 0;
}
