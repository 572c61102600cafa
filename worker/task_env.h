// worker/task_env.h
//
// What the two places that run user code share: a worker's TaskExecutor
// (task_executor.h) and the driver's LocalRuntime in local mode
// (local_runtime.h). RuntimeEnv "env_vars" parsed from a task's or actor's
// runtime_env JSON and set for a scope, and the readable type name of a
// caught exception, as task errors name it.
// Threading: EnvVarsOf and DemangledTypeName are pure. ScopedEnv changes
// the process environment, which glibc does not guard against readers on
// other threads: a caller runs user code under it, as Ray's workers do.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace lumen::worker {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// RuntimeEnv's "env_vars" (a JSON object of strings) of `runtime_env_json`;
// none when the JSON is empty or has no env_vars; else an error naming
// what is wrong.
absl::StatusOr<EnvVars> EnvVarsOf(const std::string& runtime_env_json);

// Sets `vars` for the scope's life, then puts back what was there.
class ScopedEnv {
 public:
  explicit ScopedEnv(const EnvVars& vars);
  ~ScopedEnv();
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  struct Saved {
    std::string name;
    bool had;
    std::string value;
  };
  std::vector<Saved> saved_;
};

// "std::runtime_error" for the mangled typeid(e).name() of one.
std::string DemangledTypeName(const char* mangled);

}  // namespace lumen::worker
