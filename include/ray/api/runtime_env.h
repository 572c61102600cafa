// include/ray/api/runtime_env.h
//
// ray::RuntimeEnv: the environment a task's or actor's worker runs in, as in
// Ray's C++ API: named fields holding JSON values (nlohmann::json), set
// with Set/SetJsonStr and given to SetRuntimeEnv of ray::Task(...) or
// ray::Actor(...):
//
//   ray::RuntimeEnv env;
//   env.Set("env_vars", std::map<std::string, std::string>{{"MODE", "fast"}});
//   ray::Actor(CreateCounter).SetRuntimeEnv(env).Remote(1);
//
// Lumen honours one field, "env_vars" (a map of strings: environment
// variables set in the worker); SetRuntimeEnv refuses any other field or a
// malformed env_vars with RayRuntimeEnvException, so that nothing asked for
// is silently dropped. Not thread-safe: one RuntimeEnv per thread.
#pragma once

#include <string>

#include "nlohmann/json.hpp"
#include "ray/api/ray_exception.h"

// As in Ray's header, for programs that name nlohmann's type this way.
using json = nlohmann::json;

namespace ray {

class RuntimeEnv;
namespace internal {
void CheckRuntimeEnv(const RuntimeEnv& env);
}  // namespace internal

class RuntimeEnv {
 public:
  // Sets field `name` to `value`, anything nlohmann::json can hold. Throws
  // RayRuntimeEnvException when `value` cannot be converted.
  template <typename T>
  void Set(const std::string& name, const T& value) {
    try {
      fields_[name] = nlohmann::json(value);
    } catch (const std::exception& e) {
      throw internal::RayRuntimeEnvException("Failed to set the field " + name + ": " +
                                             e.what());
    }
  }

  // Throws RayRuntimeEnvException when the field is absent or not a T.
  template <typename T>
  T Get(const std::string& name) const {
    try {
      return Field(name).get<T>();
    } catch (const internal::RayRuntimeEnvException&) {
      throw;
    } catch (const std::exception& e) {
      throw internal::RayRuntimeEnvException("Failed to get the field " + name + ": " +
                                             e.what());
    }
  }

  // `json_str` must be JSON; throws RayRuntimeEnvException otherwise.
  void SetJsonStr(const std::string& name, const std::string& json_str) {
    fields_[name] = Parse(json_str, "the field " + name);
  }
  std::string GetJsonStr(const std::string& name) const { return Field(name).dump(); }

  bool Contains(const std::string& name) const { return fields_.contains(name); }
  // True when the field was there.
  bool Remove(const std::string& name) { return fields_.erase(name) > 0; }
  bool Empty() const { return fields_.empty(); }

  // A JSON object of the fields; Deserialize reads it back.
  std::string Serialize() const { return fields_.dump(); }
  static RuntimeEnv Deserialize(const std::string& serialized_runtime_env) {
    RuntimeEnv env;
    env.fields_ = Parse(serialized_runtime_env, "a serialized runtime env");
    if (!env.fields_.is_object()) {
      throw internal::RayRuntimeEnvException("a serialized runtime env must be a JSON object");
    }
    return env;
  }

 private:
  friend void internal::CheckRuntimeEnv(const RuntimeEnv& env);

  const nlohmann::json& Field(const std::string& name) const {
    auto it = fields_.find(name);
    if (it == fields_.end()) {
      throw internal::RayRuntimeEnvException("The field " + name + " not found.");
    }
    return *it;
  }

  static nlohmann::json Parse(const std::string& text, const std::string& what) {
    try {
      return nlohmann::json::parse(text);
    } catch (const std::exception& e) {
      throw internal::RayRuntimeEnvException(what + " is not valid JSON: " + e.what());
    }
  }

  nlohmann::json fields_ = nlohmann::json::object();
};

namespace internal {

// What SetRuntimeEnv accepts: only "env_vars", a JSON object whose keys
// are non-empty names without '=' or NUL and whose values are strings
// without NUL. Throws RayRuntimeEnvException naming the first problem.
inline void CheckRuntimeEnv(const RuntimeEnv& env) {
  for (const auto& [field, value] : env.fields_.items()) {
    if (field != "env_vars") {
      throw RayRuntimeEnvException("runtime env field \"" + field +
                                   "\" is not supported by Lumen (only env_vars is)");
    }
    if (!value.is_object()) {
      throw RayRuntimeEnvException("runtime env env_vars must be a map of strings, not " +
                                   value.dump());
    }
    for (const auto& [name, var] : value.items()) {
      if (name.empty() || name.find('=') != std::string::npos ||
          name.find('\0') != std::string::npos) {
        throw RayRuntimeEnvException("runtime env env_vars: bad variable name " +
                                     nlohmann::json(name).dump());
      }
      if (!var.is_string()) {
        throw RayRuntimeEnvException("runtime env env_vars: the value of " + name +
                                     " must be a string, not " + var.dump());
      }
      if (var.get_ref<const std::string&>().find('\0') != std::string::npos) {
        throw RayRuntimeEnvException("runtime env env_vars: the value of " + name +
                                     " contains a NUL byte");
      }
    }
  }
}

// The runtime env as TaskOptions/ActorOptions carry it: "" when empty.
inline std::string SerializeRuntimeEnv(const RuntimeEnv& env) {
  CheckRuntimeEnv(env);
  return env.Empty() ? std::string() : env.Serialize();
}

}  // namespace internal
}  // namespace ray
