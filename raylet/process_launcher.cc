#include "raylet/process_launcher.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include <fstream>
#include <sstream>

#include "glog/logging.h"

namespace lumen::raylet {

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    int sig = WTERMSIG(status);
    const char* abbrev = sigabbrev_np(sig);  // "KILL"; null for unknown numbers.
    return "killed by signal " + std::to_string(sig) + " (" +
           (abbrev ? "SIG" + std::string(abbrev) : "unknown signal") + ")";
  }
  return "status " + std::to_string(status);
}

PosixProcessLauncher::PosixProcessLauncher() {
  absl::StatusOr<LogRotation> rotation = LogRotationFromEnv();
  if (rotation.ok()) {
    log_rotation_ = *rotation;
  } else {
    LOG(WARNING) << "workers' logs will not rotate: " << rotation.status().message();
  }
}

absl::StatusOr<pid_t> PosixProcessLauncher::Start(const ProcessOptions& options) {
  if (options.log_file.empty() || options.log_rotation.enabled()) return StartProcess(options);
  ProcessOptions rotated = options;
  rotated.log_rotation = log_rotation_;
  return StartProcess(rotated);
}

void PosixProcessLauncher::KillGroup(pid_t pid, int sig) { KillProcessGroup(pid, sig); }

std::vector<ExitedProcess> PosixProcessLauncher::ReapExited() {
  std::vector<ExitedProcess> exited;
  while (true) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid <= 0) break;
    exited.push_back({pid, DescribeWaitStatus(status)});
  }
  return exited;
}

bool PosixProcessLauncher::IsAlive(pid_t pid) {
  if (pid <= 0) return false;
  if (::kill(pid, 0) != 0) return errno == EPERM;  // EPERM: alive, someone else's.
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  // Field 3, after "pid (comm) ", is the state; Z and X are gone.
  if (paren == std::string::npos || paren + 2 >= text.size()) return true;
  char state = text[paren + 2];
  return state != 'Z' && state != 'X';
}

}  // namespace lumen::raylet
