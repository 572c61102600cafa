#include "worker/function_registry.h"

#include <dlfcn.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace lumen::worker {

FunctionRegistry& FunctionRegistry::Instance() {
  static FunctionRegistry* registry = new FunctionRegistry();  // Never destroyed.
  return *registry;
}

void FunctionRegistry::Register(const std::string& name, const void* fn_ptr,
                                ray::internal::Invoker invoker) {
  std::lock_guard<std::mutex> lock(mu_);
  by_name_[name] = std::move(invoker);
  by_ptr_[fn_ptr] = name;
}

std::optional<ray::internal::Invoker> FunctionRegistry::Find(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_name_.find(name);
  if (it == by_name_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::string> FunctionRegistry::NameOf(const void* fn_ptr) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = by_ptr_.find(fn_ptr);
  if (it == by_ptr_.end()) return std::nullopt;
  return it->second;
}

size_t FunctionRegistry::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return by_name_.size();
}

absl::Status FunctionRegistry::LoadLibraries(const std::vector<std::string>& paths) {
  std::vector<std::string> libs;
  for (const auto& p : paths) {
    std::error_code ec;
    if (fs::is_directory(p, ec)) {
      for (const auto& entry : fs::directory_iterator(p, ec)) {
        if (entry.path().extension() == ".so") libs.push_back(entry.path().string());
      }
    } else if (fs::exists(p, ec)) {
      libs.push_back(p);
    } else {
      return absl::NotFoundError("code search path entry " + p + " does not exist");
    }
  }
  for (const auto& lib : libs) {
    if (!::dlopen(lib.c_str(), RTLD_NOW | RTLD_GLOBAL)) {
      return absl::InvalidArgumentError("cannot load " + lib + ": " + ::dlerror());
    }
  }
  return absl::OkStatus();
}

}  // namespace lumen::worker
