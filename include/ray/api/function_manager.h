// include/ray/api/function_manager.h
//
// RAY_REMOTE(f, g, ...) registers free functions as remote functions under
// their source names, in the driver and in every worker that loads the same
// code. RAY_FUNC(f, Args...) picks the overload of f taking exactly Args...
// (any number of them), e.g. RAY_REMOTE(RAY_FUNC(f, int, int)) and
// ray::Task(RAY_FUNC(f, int, int)).Remote(1, 2).
// Registration happens during static initialization; lookups afterwards
// are thread-safe.
#pragma once

#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "ray/api/object_ref.h"
#include "ray/api/runtime.h"
#include "ray/api/serializer.h"

namespace ray {
namespace internal {

template <typename F>
struct FunctionTraits;
template <typename R, typename... Args>
struct FunctionTraits<R (*)(Args...)> {
  using ReturnType = R;
  using ArgsTuple = std::tuple<std::decay_t<Args>...>;
  static constexpr size_t kArity = sizeof...(Args);
};

template <typename R, typename... Args, size_t... I>
std::string CallWithArgs(R (*fn)(Args...), const std::vector<ArgView>& args,
                         std::index_sequence<I...>) {
  // Braced initialization evaluates left to right.
  std::tuple<std::decay_t<Args>...> values{
      Serializer::Deserialize<std::decay_t<Args>>(args[I].data, args[I].size)...};
  if constexpr (std::is_void_v<R>) {
    fn(static_cast<Args&&>(std::get<I>(values))...);
    return Serializer::Serialize(msgpack::type::nil_t());
  } else {
    return Serializer::Serialize(fn(static_cast<Args&&>(std::get<I>(values))...));
  }
}

template <typename R, typename... Args>
Invoker MakeInvoker(R (*fn)(Args...)) {
  return [fn](const std::vector<ArgView>& args) -> std::string {
    if (args.size() != sizeof...(Args)) {
      throw RayException("remote function expects " + std::to_string(sizeof...(Args)) +
                         " arguments, got " + std::to_string(args.size()));
    }
    return CallWithArgs(fn, args, std::index_sequence_for<Args...>{});
  };
}

// Splits "f, RAY_FUNC(g, int), &h" into names at top-level commas, without
// spaces or a leading '&'.
inline std::vector<std::string> SplitFunctionNames(const std::string& text) {
  std::vector<std::string> names(1);
  int depth = 0;
  for (char c : text) {
    if (c == '(') ++depth;
    if (c == ')') --depth;
    if (c == ',' && depth == 0) {
      names.emplace_back();
    } else if (c != ' ' && c != '\t' && c != '\n' && !(c == '&' && names.back().empty())) {
      names.back() += c;
    }
  }
  return names;
}

// RAY_FUNC(f, Args...) is OverloadOf<Args...>{}(f). The parameter list is
// fixed by the class, so deduction only has to find the return type, and
// exactly one overload of f (the one taking Args...) can supply it.
template <typename... Args>
struct OverloadOf {
  template <typename R>
  constexpr auto operator()(R (*fn)(Args...)) const {
    return fn;
  }
};

template <typename... Fs>
bool RegisterRemoteFunctions(const char* names_text, Fs... fns) {
  std::vector<std::string> names = SplitFunctionNames(names_text);
  size_t i = 0;
  (RegisterFunction(names.at(i++), reinterpret_cast<const void*>(fns), MakeInvoker(fns)), ...);
  return true;
}

}  // namespace internal
}  // namespace ray

#define RAY_INTERNAL_CONCAT_(a, b) a##b
#define RAY_INTERNAL_CONCAT(a, b) RAY_INTERNAL_CONCAT_(a, b)
#define RAY_REMOTE(...)                                                            \
  static const bool RAY_INTERNAL_CONCAT(ray_remote_registered_, __COUNTER__) = \
      ::ray::internal::RegisterRemoteFunctions(#__VA_ARGS__, __VA_ARGS__)
// RAY_FUNC(f, int, int): the pointer to f(int, int); RAY_FUNC(f): f().
#define RAY_FUNC(f, ...) ::ray::internal::OverloadOf<__VA_ARGS__>{}(f)
