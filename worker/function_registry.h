// worker/function_registry.h
//
// The remote code of this process, as RAY_REMOTE registers it: remote
// functions (name -> invoker, function pointer -> name for ray::Task(f)),
// actor factories (name -> factory) and actor methods (name -> invoker,
// method key -> name for ActorHandle::Task(&C::m); the key is
// ray::internal::MethodKey). Filled during static initialization of the
// driver executable or of the shared libraries a worker loads from the
// job's code search path. This is the one process-wide singleton: static
// initializers have nowhere else to write.
// Threading: thread-safe; lookups take a shared lock.
#pragma once

#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "ray/api/runtime.h"

namespace lumen::worker {

class FunctionRegistry {
 public:
  static FunctionRegistry& Instance();

  // A later registration under the same name or pointer replaces the
  // earlier one (the same RAY_REMOTE seen twice registers the same code).
  void Register(const std::string& name, const void* fn_ptr, ray::internal::Invoker invoker);
  void RegisterFactory(const std::string& name, ray::internal::ActorFactory factory);
  void RegisterMethod(const std::string& name, const std::string& key,
                      ray::internal::MethodInvoker invoker);

  // nullopt when nothing of that name, pointer or key is registered.
  std::optional<ray::internal::Invoker> Find(const std::string& name) const;
  std::optional<std::string> NameOf(const void* fn_ptr) const;
  std::optional<ray::internal::ActorFactory> FindFactory(const std::string& name) const;
  std::optional<ray::internal::MethodInvoker> FindMethod(const std::string& name) const;
  std::optional<std::string> MethodNameOf(const std::string& key) const;
  // Remote functions (factories included, which are also functions).
  size_t Size() const;

  // dlopens every shared library named in `paths`: a path to a .so file,
  // or a directory whose *.so files are loaded. Errors name the library.
  absl::Status LoadLibraries(const std::vector<std::string>& paths);

 private:
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, ray::internal::Invoker> by_name_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<const void*, std::string> by_ptr_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, ray::internal::ActorFactory> factories_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, ray::internal::MethodInvoker> methods_ ABSL_GUARDED_BY(mu_);
  std::unordered_map<std::string, std::string> method_names_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lumen::worker
