#include "raylet/plasma_check.h"

#include <sys/stat.h>

#ifdef LUMEN_RAYLET_WITH_PLASMA_CLIENT
#include "plasma/client.h"
#endif

namespace lumen::raylet {

absl::Status CheckPlasmaStore(const std::string& socket_path) {
#ifdef LUMEN_RAYLET_WITH_PLASMA_CLIENT
  auto client = plasma::PlasmaClient::Connect(socket_path);
  if (!client.ok()) return client.status();
  return (*client)->Ping();
#else
  struct stat info;
  if (::stat(socket_path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) {
    return absl::NotFoundError("no plasma socket at " + socket_path);
  }
  return absl::OkStatus();
#endif
}

}  // namespace lumen::raylet
