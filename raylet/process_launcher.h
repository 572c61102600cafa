// raylet/process_launcher.h
//
// ProcessLauncher is the raylet's only door to real processes: start one,
// signal its process group, collect children that exited, and probe a pid
// that is not our child (a driver). PosixProcessLauncher does it for real
// (common/process.h); FakeProcessLauncher (fake_process_launcher.h) records
// calls so worker-pool tests run without processes.
// Threading: the raylet loop only. Failure: Start returns the exec problem
// (missing executable, unwritable log) as a Status.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/process.h"

namespace lumen::raylet {

struct ExitedProcess {
  pid_t pid = 0;
  std::string cause;  // "exited with status 1", "killed by signal 9 (SIGKILL)", ...
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  virtual absl::StatusOr<pid_t> Start(const ProcessOptions& options) = 0;
  // Signals the process group led by `pid`.
  virtual void KillGroup(pid_t pid, int sig) = 0;
  // Children that exited since the last call (reaped, so no zombies stay).
  virtual std::vector<ExitedProcess> ReapExited() = 0;
  // Whether an arbitrary pid (not necessarily our child) still runs.
  virtual bool IsAlive(pid_t pid) = 0;
};

class PosixProcessLauncher : public ProcessLauncher {
 public:
  // Workers' logs rotate as this process's environment says
  // (LogRotationFromEnv: the settings `lumen start` gave the raylet).
  PosixProcessLauncher();
  // A process with a log file and no rotation of its own gets that rotation.
  absl::StatusOr<pid_t> Start(const ProcessOptions& options) override;
  void KillGroup(pid_t pid, int sig) override;
  // Reaps every exited child of this process (the raylet has no others).
  std::vector<ExitedProcess> ReapExited() override;
  // kill(pid, 0) succeeds and /proc/<pid>/stat does not say zombie.
  bool IsAlive(pid_t pid) override;

 private:
  LogRotation log_rotation_;
};

// "exited with status N" / "killed by signal N (SIGNAME)" for a waitpid
// status; the words ReportWorkerFailure carries to the GCS.
std::string DescribeWaitStatus(int status);

}  // namespace lumen::raylet
