// worker/function_registry.h
//
// The remote functions of this process: name -> invoker, and function
// pointer -> name for ray::Task(f). Filled by RAY_REMOTE during static
// initialization of the driver executable or of the shared libraries a
// worker loads from the job's code search path. This is the one
// process-wide singleton: static initializers have nowhere else to write.
// Threading: thread-safe.
#pragma once

#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/status/status.h"
#include "ray/api/runtime.h"

namespace lumen::worker {

class FunctionRegistry {
 public:
  static FunctionRegistry& Instance();

  void Register(const std::string& name, const void* fn_ptr, ray::internal::Invoker invoker);
  // nullopt when no function of that name is registered.
  std::optional<ray::internal::Invoker> Find(const std::string& name) const;
  std::optional<std::string> NameOf(const void* fn_ptr) const;
  size_t Size() const;

  // dlopens every shared library named in `paths`: a path to a .so file,
  // or a directory whose *.so files are loaded. Errors name the library.
  absl::Status LoadLibraries(const std::vector<std::string>& paths);

 private:
  mutable std::mutex mu_;
  std::unordered_map<std::string, ray::internal::Invoker> by_name_;
  std::unordered_map<const void*, std::string> by_ptr_;
};

}  // namespace lumen::worker
