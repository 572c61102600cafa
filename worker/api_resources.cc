// ray::internal::CheckResource: the API's side of common/resources.h, for
// the header-only setters and Init (include/ray/api/runtime.h).
#include <stdexcept>
#include <string>

#include "common/resources.h"
#include "ray/api/runtime.h"

namespace ray::internal {

void CheckResource(const std::string& name, double amount) {
  absl::Status status = lumen::ValidateResource(name, amount);
  if (!status.ok()) throw std::invalid_argument(std::string(status.message()));
}

}  // namespace ray::internal
