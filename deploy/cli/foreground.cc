// `lumen start --block`: the foreground loop used under systemd.
#include <signal.h>

#include <cerrno>
#include <ctime>
#include <iostream>

#include "common/process.h"
#include "deploy/cli/commands.h"
#include "deploy/readiness.h"

namespace lumen::cli {
namespace {

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int RunForeground(const deploy::StartedNode& node) {
  const sigset_t set = TerminationSignals();
  const timespec tick{0, 200 * 1000 * 1000};
  while (true) {
    const int signal = ::sigtimedwait(&set, nullptr, &tick);
    if (signal > 0) {
      std::cout << "lumen: received signal " << signal << ", stopping this node" << std::endl;
      deploy::StopNode(node, /*force=*/false);
      return 0;
    }
    for (const auto& [name, pid] : node.daemons) {
      if (ProcessAlive(pid)) continue;
      deploy::WatchedDaemon daemon{name, pid, node.session_dir + "/logs/" + name + ".out"};
      std::cerr << "lumen start: " << deploy::DescribeDaemonFailure(daemon, "(pid " +
                                                                        std::to_string(pid) +
                                                                        ") exited unexpectedly")
                << "\nlumen start: stopping the other daemons of this node" << std::endl;
      deploy::StopNode(node, /*force=*/false);
      return 1;
    }
  }
}

}  // namespace lumen::cli
