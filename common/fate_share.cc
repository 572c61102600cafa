#include "common/fate_share.h"

#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <thread>

#include "common/logging.h"

namespace lumen {

void StartFateSharingFromEnv() {
  const char* value = std::getenv(kFateSharePidEnv);
  if (!value || !*value) return;
  char* end = nullptr;
  long pid = std::strtol(value, &end, 10);
  if (*end != '\0' || pid <= 1) {
    LOG(WARNING) << "ignoring " << kFateSharePidEnv << "=" << value << ": not a pid";
    return;
  }
  SignalSelfWhenProcessExits(static_cast<pid_t>(pid), SIGTERM);
}

void SignalSelfWhenProcessExits(pid_t pid, int signal) {
  // The thread ends only with the process: it blocks until the watched
  // process is gone, then asks this one to stop.
  std::thread([pid, signal] {
    int fd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (fd >= 0) {
      pollfd p{fd, POLLIN, 0};
      while (::poll(&p, 1, -1) < 0 && errno == EINTR) {
      }
      ::close(fd);
    } else if (errno != ESRCH) {  // No pidfd here: poll the pid.
      while (::kill(pid, 0) == 0 || errno == EPERM) ::usleep(100 * 1000);
    }
    LOG(INFO) << "process " << pid << " (whose fate this daemon shares) exited; stopping";
    ::kill(::getpid(), signal);
  }).detach();
}

}  // namespace lumen
