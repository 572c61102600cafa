// raylet/fake_process_launcher.h
//
// A ProcessLauncher for tests: Start hands out increasing fake pids and
// remembers the options; nothing runs. Tests make processes "exit" with
// Exit(pid) (collected by the next ReapExited) and make drivers vanish with
// SetAlive(pid, false). KillGroup records the signal and, like the real
// thing with SIGKILL, makes the process exit.
// Threading: one test thread.
#pragma once

#include <map>
#include <set>
#include <vector>

#include "raylet/process_launcher.h"

namespace lumen::raylet {

class FakeProcessLauncher : public ProcessLauncher {
 public:
  absl::StatusOr<pid_t> Start(const ProcessOptions& options) override {
    if (!fail_starts_.ok()) return fail_starts_;
    pid_t pid = next_pid_++;
    started[pid] = options;
    running_.insert(pid);
    return pid;
  }
  void KillGroup(pid_t pid, int sig) override {
    killed.push_back({pid, sig});
    Exit(pid, "killed by signal " + std::to_string(sig) + (sig == 9 ? " (SIGKILL)" : ""));
  }
  std::vector<ExitedProcess> ReapExited() override {
    std::vector<ExitedProcess> out;
    out.swap(exited_);
    return out;
  }
  bool IsAlive(pid_t pid) override { return !dead_.count(pid); }

  // Test controls.
  void Exit(pid_t pid, const std::string& cause = "exited with status 1") {
    if (running_.erase(pid)) exited_.push_back({pid, cause});
  }
  void SetAlive(pid_t pid, bool alive) {
    if (alive)
      dead_.erase(pid);
    else
      dead_.insert(pid);
  }
  void FailStarts(absl::Status status) { fail_starts_ = std::move(status); }
  bool IsRunning(pid_t pid) const { return running_.count(pid) > 0; }
  size_t NumRunning() const { return running_.size(); }

  std::map<pid_t, ProcessOptions> started;
  std::vector<std::pair<pid_t, int>> killed;

 private:
  pid_t next_pid_ = 1000;
  std::set<pid_t> running_;
  std::set<pid_t> dead_;
  std::vector<ExitedProcess> exited_;
  absl::Status fail_starts_;
};

}  // namespace lumen::raylet
