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
#include "deploy/sd_notify.h"

namespace lumen::cli {

int RunStart(const ParsedArgs& args);  // Checks the flags across (ToStartRequest) first.
int RunStop(const StopRequest& request);
int RunStatus(const StatusRequest& request);

// The cluster's GCS address: --address, then $RAY_ADDRESS (unless "auto"),
// then <temp-dir>/lumen_current_cluster (`from_record` says so).
absl::StatusOr<std::string> ClusterAddress(const StatusRequest& request, bool& from_record);

// Blocks SIGTERM, SIGINT and SIGHUP in the calling thread (and the threads it
// creates later) so that RunForeground can wait for them synchronously.
void BlockTerminationSignals();

// `lumen start --block`: watches the daemons of `node`. A termination signal
// stops them and returns 0; a daemon that dies on its own stops the rest and
// returns 1. Tells `notifier` (systemd) READY once every daemon answers,
// pings its watchdog while they do, and STOPPING before stopping them.
int RunForeground(const deploy::StartedNode& node, const deploy::SystemdNotifier& notifier);

}  // namespace lumen::cli
