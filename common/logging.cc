#include "common/logging.h"

#include <atomic>

namespace lumen {

void InitLogging(const char* program_name) {
  static std::atomic<bool> done{false};
  if (done.exchange(true)) return;
  FLAGS_logtostderr = true;
  FLAGS_colorlogtostderr = false;
  google::InitGoogleLogging(program_name);
  google::InstallFailureSignalHandler();
}

}  // namespace lumen
