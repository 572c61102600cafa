#include "worker/cuda_visible_devices.h"

#include <cstdlib>
#include <mutex>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/logging.h"

namespace lumen::worker {
namespace {

constexpr char kName[] = "CUDA_VISIBLE_DEVICES";

// Worker processes (started by a raylet with LUMEN_WORKER_MODE=1) claim the
// variable while liblumen_ray.so loads: before main, with no thread yet.
const bool kClaimedAtLoad = [] {
  const char* mode = std::getenv("LUMEN_WORKER_MODE");
  if (mode && std::string(mode) == "1") ClaimCudaVisibleDevices();
  return true;
}();

}  // namespace

void ClaimCudaVisibleDevices() {
  if (!std::getenv(kName)) ::setenv(kName, "", /*overwrite=*/0);
}

std::string VisibleDevicesForTask(const std::string& inherited, absl::Span<const int32_t> gpu_ids) {
  if (gpu_ids.empty()) return inherited;
  std::vector<std::string> devices;
  if (!inherited.empty()) devices = absl::StrSplit(inherited, ',');
  std::string ids;
  for (int32_t gpu : gpu_ids) {
    bool mapped = gpu >= 0 && static_cast<size_t>(gpu) < devices.size();
    ids += (ids.empty() ? "" : ",") + (mapped ? devices[gpu] : std::to_string(gpu));
  }
  return ids;
}

void SetCudaVisibleDevices(const std::string& value) {
  const char* now = std::getenv(kName);
  if (now && value == now) return;
  if (!now) {
    static std::once_flag warned;
    std::call_once(warned, [] {
      LOG(WARNING) << kName << " was not in the environment; adding it now races with "
                   << "threads reading the environment (see worker/cuda_visible_devices.h)";
    });
  }
  ::setenv(kName, value.c_str(), /*overwrite=*/1);
}

}  // namespace lumen::worker
