#include "worker/task_env.h"

#include <cxxabi.h>

#include <cstdlib>

#include "nlohmann/json.hpp"

namespace lumen::worker {

absl::StatusOr<EnvVars> EnvVarsOf(const std::string& runtime_env_json) {
  EnvVars vars;
  if (runtime_env_json.empty()) return vars;
  nlohmann::json env = nlohmann::json::parse(runtime_env_json, nullptr, /*allow_exceptions=*/false);
  if (env.is_discarded() || !env.is_object()) {
    return absl::InvalidArgumentError("the runtime_env is not a JSON object");
  }
  auto it = env.find("env_vars");
  if (it == env.end()) return vars;
  if (!it->is_object()) return absl::InvalidArgumentError("runtime_env env_vars must be a map of strings");
  for (const auto& [name, value] : it->items()) {
    if (!value.is_string() || name.empty() || name.find('=') != std::string::npos) {
      return absl::InvalidArgumentError("runtime_env env_vars must map names to strings (bad entry '" +
                                        name + "')");
    }
    vars.emplace_back(name, value.get<std::string>());
  }
  return vars;
}

ScopedEnv::ScopedEnv(const EnvVars& vars) {
  for (const auto& [name, value] : vars) {
    const char* old = std::getenv(name.c_str());
    saved_.push_back({name, old != nullptr, old ? old : ""});
    ::setenv(name.c_str(), value.c_str(), 1);
  }
}

ScopedEnv::~ScopedEnv() {
  for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
    if (it->had) {
      ::setenv(it->name.c_str(), it->value.c_str(), 1);
    } else {
      ::unsetenv(it->name.c_str());
    }
  }
}

std::string DemangledTypeName(const char* mangled) {
  int status = 0;
  char* out = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string result = status == 0 && out ? out : mangled;
  std::free(out);
  return result;
}

}  // namespace lumen::worker
