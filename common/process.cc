#include "common/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>

extern char** environ;

namespace lumen {
namespace {

// In the child after fork: stdout and stderr to `log_fd`, or, rotating, to
// a pipe whose reader is a log writer process forked here (before exec, so
// it costs no exec; it only makes system calls, see common/log_rotation.h).
void RedirectOutput(int log_fd, const LogRotation& rotation) {
  int pipe_fds[2];
  if (rotation.enabled() && ::pipe2(pipe_fds, O_CLOEXEC) == 0) {
    const pid_t writer = ::fork();
    if (writer == 0) {
      ::close(pipe_fds[1]);
      RunLogWriterChild(pipe_fds[0], log_fd, rotation);
    }
    if (writer > 0) {
      ::dup2(pipe_fds[1], 1);
      ::dup2(pipe_fds[1], 2);
      return;  // Both pipe ends and log_fd close at exec (O_CLOEXEC).
    }
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
  }
  ::dup2(log_fd, 1);
  ::dup2(log_fd, 2);
}

}  // namespace

absl::StatusOr<pid_t> StartProcess(const ProcessOptions& options) {
  if (options.argv.empty()) return absl::InvalidArgumentError("empty argv");
  if (::access(options.argv[0].c_str(), X_OK) != 0) {
    return absl::NotFoundError("cannot execute " + options.argv[0] + ": " + strerror(errno));
  }
  // Build everything before fork: the child only calls async-signal-safe code.
  std::vector<char*> argv;
  for (const auto& a : options.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    std::string key = kv.substr(0, kv.find('='));
    if (!options.env.count(key)) env_strings.push_back(kv);
  }
  for (const auto& [k, v] : options.env) env_strings.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  int log_fd = -1;
  if (!options.log_file.empty()) {
    log_fd = ::open(options.log_file.c_str(),
                    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (log_fd < 0) return absl::PermissionDeniedError("cannot open log " + options.log_file);
    // Held by the log writer from the start (it inherits this open file):
    // WaitForLogWriter (common/log_rotation.h) waits until it is released.
    if (options.log_rotation.enabled()) ::flock(log_fd, LOCK_EX | LOCK_NB);
  }
  pid_t parent = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) {
    if (log_fd >= 0) ::close(log_fd);
    return absl::ResourceExhaustedError(std::string("fork failed: ") + strerror(errno));
  }
  if (pid == 0) {
    if (options.new_process_group) ::setpgid(0, 0);
    if (options.die_with_parent) {
      ::prctl(PR_SET_PDEATHSIG, options.parent_death_signal);
      if (::getppid() != parent) ::_exit(1);
    }
    if (log_fd >= 0) RedirectOutput(log_fd, options.log_rotation);
    int devnull = ::open("/dev/null", O_RDONLY);
    if (devnull >= 0) ::dup2(devnull, 0);
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  if (options.new_process_group) ::setpgid(pid, pid);  // Avoid the race with the child.
  if (log_fd >= 0) ::close(log_fd);
  return pid;
}

void KillProcessGroup(pid_t pid, int sig) {
  if (pid <= 0) return;
  if (::kill(-pid, sig) != 0) ::kill(pid, sig);
}

bool ProcessAlive(pid_t pid) {
  if (pid <= 0) return false;
  int status;
  if (::waitpid(pid, &status, WNOHANG) == pid) return false;
  return ::kill(pid, 0) == 0;
}

bool WaitForExit(pid_t pid, int timeout_ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (!ProcessAlive(pid)) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return !ProcessAlive(pid);
}

std::string SelfExecutablePath() {
  char buf[4096];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return "";
  buf[n] = 0;
  return buf;
}

}  // namespace lumen
