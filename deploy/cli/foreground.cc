// `lumen start --block`: the foreground loop used under systemd. With
// $NOTIFY_SOCKET (Type=notify) it reports READY=1 once every daemon
// answers, pings the watchdog while they all still answer, and says
// STOPPING=1 before it stops them (deploy/sd_notify.h).
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <ctime>
#include <iostream>

#include "common/process.h"
#include "deploy/cli/commands.h"
#include "deploy/readiness.h"

namespace lumen::cli {
namespace {

using Clock = std::chrono::steady_clock;

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// The first daemon of `node` whose process is gone, if any.
const std::pair<std::string, pid_t>* DeadDaemon(const deploy::StartedNode& node) {
  for (const auto& daemon : node.daemons) {
    if (!ProcessAlive(daemon.second)) return &daemon;
  }
  return nullptr;
}

std::string ServingStatus(const deploy::StartedNode& node) {
  return "serving: GCS " + node.gcs_address + ", raylet " + node.raylet_address + ", logs " +
         node.session_dir + "/logs";
}

// Waits until every daemon answers (deploy::ProbeNode); the node was
// registered already, so this is normally the first probe.
absl::Status WaitUntilServing(const deploy::StartedNode& node) {
  absl::Status probe;
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  do {
    if (DeadDaemon(node)) break;
    probe = deploy::ProbeNode(node, 2000);
    if (probe.ok()) return probe;
    const timespec pause{0, 100 * 1000 * 1000};
    ::nanosleep(&pause, nullptr);
  } while (Clock::now() < deadline);
  return probe.ok() ? absl::UnavailableError("a daemon exited") : probe;
}

// Watchdog pings at half of WatchdogSec, each only after every daemon has
// answered: a daemon that hangs without exiting stops the pings, and
// systemd kills and restarts the node.
class Watchdog {
 public:
  Watchdog(const deploy::SystemdNotifier& notifier, const deploy::StartedNode& node)
      : notifier_(notifier), node_(node),
        period_(std::chrono::microseconds(notifier.watchdog_usec() / 2)), next_(Clock::now()) {}

  void Tick() {
    if (period_.count() == 0 || Clock::now() < next_) return;
    next_ = Clock::now() + period_;
    const int timeout_ms = static_cast<int>(std::clamp<int64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(period_).count() / 2, 100, 5000));
    absl::Status probe = deploy::ProbeNode(node_, timeout_ms);
    if (probe.ok()) {
      notifier_.WatchdogPing();
      if (failing_) notifier_.Status(ServingStatus(node_));
      failing_ = false;
      return;
    }
    std::cerr << "lumen start: not pinging the systemd watchdog: " << probe.message() << std::endl;
    notifier_.Status("unhealthy, watchdog not pinged: " + std::string(probe.message()));
    failing_ = true;
  }

 private:
  const deploy::SystemdNotifier& notifier_;
  const deploy::StartedNode& node_;
  const Clock::duration period_;
  Clock::time_point next_;
  bool failing_ = false;
};

}  // namespace

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int RunForeground(const deploy::StartedNode& node, const deploy::SystemdNotifier& notifier) {
  if (notifier.enabled()) {
    if (absl::Status serving = WaitUntilServing(node); !serving.ok()) {
      std::cerr << "lumen start: the node does not serve: " << serving.message() << std::endl;
      notifier.Status("failed: " + std::string(serving.message()));
      deploy::StopNode(node, /*force=*/false);
      return 1;
    }
    notifier.Ready(ServingStatus(node));
  }
  Watchdog watchdog(notifier, node);
  const sigset_t set = TerminationSignals();
  const timespec tick{0, 200 * 1000 * 1000};
  while (true) {
    const int signal = ::sigtimedwait(&set, nullptr, &tick);
    if (signal > 0) {
      std::cout << "lumen: received signal " << signal << ", stopping this node" << std::endl;
      notifier.Stopping("stopping: received signal " + std::to_string(signal));
      deploy::StopNode(node, /*force=*/false);
      return 0;
    }
    if (const auto* dead = DeadDaemon(node)) {
      const auto& [name, pid] = *dead;
      deploy::WatchedDaemon daemon{name, pid, node.session_dir + "/logs/" + name + ".out"};
      const std::string failure =
          deploy::DescribeDaemonFailure(daemon, "(pid " + std::to_string(pid) + ") exited unexpectedly");
      std::cerr << "lumen start: " << failure
                << "\nlumen start: stopping the other daemons of this node" << std::endl;
      notifier.Stopping("failed: " + failure.substr(0, failure.find('\n')));
      deploy::StopNode(node, /*force=*/false);
      return 1;
    }
    watchdog.Tick();
  }
}

}  // namespace lumen::cli
