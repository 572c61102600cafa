// common/fate_share.h
//
// Fate-sharing for the daemons of a private cluster: a daemon started with
// LUMEN_FATE_SHARE_PID=<pid> in its environment stops (SIGTERM to itself,
// so its ordinary graceful stop runs) as soon as that process exits, however
// it exits: normal return, exception, SIGINT, SIGTERM or SIGKILL. The
// watch is a pidfd (Linux >= 5.3) polled by one thread that lives as long as
// the daemon; on kernels without pidfd it polls kill(pid, 0) every 100 ms.
// PR_SET_PDEATHSIG alone is not enough: it follows the *thread* that forked
// the daemon, not the process, and a daemon reparented before it could set
// it would never notice.
// Threading: call once from main, before or after other threads start.
#pragma once

#include <sys/types.h>

namespace lumen {

inline constexpr char kFateSharePidEnv[] = "LUMEN_FATE_SHARE_PID";

// Starts the watch when LUMEN_FATE_SHARE_PID names a pid; no-op otherwise.
void StartFateSharingFromEnv();
// Sends `signal` to this process once `pid` has exited (at once if it has).
void SignalSelfWhenProcessExits(pid_t pid, int signal);

}  // namespace lumen
