#include "common/logging.h"

#include <atomic>

#include "absl/synchronization/mutex.h"

namespace lumen {

void InitLogging(const char* program_name) {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  FLAGS_logtostderr = true;
  FLAGS_colorlogtostderr = false;
  google::InitGoogleLogging(program_name);
  google::InstallFailureSignalHandler();
  // Debian builds Abseil without NDEBUG, which leaves absl::Mutex's
  // lock-order (deadlock) tracking on: every gRPC mutex then updates a
  // process-wide graph under a global lock (GraphCycles showed in profiles
  // of the task path). It checks gRPC's locking, not ours; turn it off.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
}

}  // namespace lumen
