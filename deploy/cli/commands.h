// deploy/cli/commands.h
//
// The verbs of the `lumen` CLI. Each takes its parsed request, prints what the user
// needs on stdout and one clear line per error on stderr, and returns the
// process exit code (0 success, 1 failure, 2 bad usage). Main thread only:
// RunStart with --block waits for signals that main() has blocked before any
// thread was created (see BlockTerminationSignals).
#pragma once

#include "deploy/cli/cli_flags.h"
#include "deploy/launcher.h"

namespace lumen::cli {

int RunStart(const ParsedArgs& args);  // Checks the flags across (ToStartRequest) first.
int RunStop(const StopRequest& request);
int RunStatus(const StatusRequest& request);

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and the threads it
// creates later) so that RunForeground can wait for them synchronously.
void BlockTerminationSignals();

// `lumen start --block`: watches the daemons of `node`. A termination signal
// stops them and returns 0; a daemon that dies on its own stops the rest and
// returns 1.
int RunForeground(const deploy::StartedNode& node);

}  // namespace lumen::cli
