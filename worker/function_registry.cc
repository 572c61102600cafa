#include "worker/function_registry.h"

#include <dlfcn.h>

#include <filesystem>

namespace fs = std::filesystem;

namespace lumen::worker {

FunctionRegistry& FunctionRegistry::Instance() {
  static FunctionRegistry* registry = new FunctionRegistry();  // Never destroyed.
  return *registry;
}

namespace {

template <typename Map>
std::optional<typename Map::mapped_type> Lookup(const Map& map, const typename Map::key_type& key) {
  auto it = map.find(key);
  if (it == map.end()) return std::nullopt;
  return it->second;
}

}  // namespace

void FunctionRegistry::Register(const std::string& name, const void* fn_ptr,
                                ray::internal::Invoker invoker) {
  absl::MutexLock lock(&mu_);
  by_name_[name] = std::move(invoker);
  by_ptr_[fn_ptr] = name;
}

void FunctionRegistry::RegisterFactory(const std::string& name,
                                       ray::internal::ActorFactory factory) {
  absl::MutexLock lock(&mu_);
  factories_[name] = std::move(factory);
}

void FunctionRegistry::RegisterMethod(const std::string& name, const std::string& key,
                                      ray::internal::MethodInvoker invoker) {
  absl::MutexLock lock(&mu_);
  methods_[name] = std::move(invoker);
  method_names_[key] = name;
}

std::optional<ray::internal::Invoker> FunctionRegistry::Find(const std::string& name) const {
  absl::ReaderMutexLock lock(&mu_);
  return Lookup(by_name_, name);
}

std::optional<std::string> FunctionRegistry::NameOf(const void* fn_ptr) const {
  absl::ReaderMutexLock lock(&mu_);
  return Lookup(by_ptr_, fn_ptr);
}

std::optional<ray::internal::ActorFactory> FunctionRegistry::FindFactory(
    const std::string& name) const {
  absl::ReaderMutexLock lock(&mu_);
  return Lookup(factories_, name);
}

std::optional<ray::internal::MethodInvoker> FunctionRegistry::FindMethod(
    const std::string& name) const {
  absl::ReaderMutexLock lock(&mu_);
  return Lookup(methods_, name);
}

std::optional<std::string> FunctionRegistry::MethodNameOf(const std::string& key) const {
  absl::ReaderMutexLock lock(&mu_);
  return Lookup(method_names_, key);
}

size_t FunctionRegistry::Size() const {
  absl::ReaderMutexLock lock(&mu_);
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
