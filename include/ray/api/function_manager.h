// include/ray/api/function_manager.h
//
// RAY_REMOTE(...) registers remote functions, actor factories and actor
// methods under their source names, in the driver and in every worker that
// loads the same code, as in Ray's C++ API:
//
//   RAY_REMOTE(Square, CreateCounter, &Counter::Add, &Counter::Get);
//
// - a free (or static member) function is a remote function for ray::Task;
// - one returning a pointer to a class (`Counter* CreateCounter(int)`) is an
//   actor factory for ray::Actor; the actor owns the instance and deletes it
//   when the actor ends (it cannot be run as a task);
// - a member function pointer (const or not) is an actor method for
//   ActorHandle<T>::Task.
// RAY_FUNC(f, Args...) picks the overload of f taking exactly Args... (any
// number of them), for free functions, factories and member functions alike:
// RAY_REMOTE(RAY_FUNC(f, int, int), RAY_FUNC(&Counter::Add, int)).
// Names are the macro text without spaces or a leading '&' ("Counter::Add",
// "RAY_FUNC(&Counter::Add,int)"); a driver and its workers compile the same
// text, so they agree on them. Registration happens during static
// initialization; lookups afterwards are thread-safe.
#pragma once

#include <memory>
#include <string>
#include <tuple>
#include <type_traits>
#include <typeinfo>
#include <utility>
#include <vector>

#include "ray/api/object_ref.h"
#include "ray/api/runtime.h"
#include "ray/api/serializer.h"

namespace ray {
namespace internal {

// Free functions: ray::Task(f) and ray::Actor(factory).
template <typename F>
struct FunctionTraits;
template <typename R, typename... Args>
struct FunctionTraits<R (*)(Args...)> {
  using ReturnType = R;
  using Params = std::tuple<Args...>;
  using ArgsTuple = std::tuple<std::decay_t<Args>...>;
  static constexpr size_t kArity = sizeof...(Args);
};

// Member functions: ActorHandle<T>::Task(&T::Method).
template <typename F>
struct MemberTraits;
template <typename R, typename C, typename... Args>
struct MemberTraits<R (C::*)(Args...)> {
  using ReturnType = R;
  using Class = C;
  using Params = std::tuple<Args...>;
  using ArgsTuple = std::tuple<std::decay_t<Args>...>;
  static constexpr size_t kArity = sizeof...(Args);
};
template <typename R, typename C, typename... Args>
struct MemberTraits<R (C::*)(Args...) const> : MemberTraits<R (C::*)(Args...)> {};
template <typename R, typename C, typename... Args>
struct MemberTraits<R (C::*)(Args...) noexcept> : MemberTraits<R (C::*)(Args...)> {};
template <typename R, typename C, typename... Args>
struct MemberTraits<R (C::*)(Args...) const noexcept> : MemberTraits<R (C::*)(Args...)> {};

// A free function returning a pointer to a class: an actor factory.
template <typename F, typename = void>
struct IsActorFactory : std::false_type {};
template <typename F>
struct IsActorFactory<F, std::enable_if_t<std::is_pointer_v<F> &&
                                          std::is_function_v<std::remove_pointer_t<F>>>>
    : std::bool_constant<
          std::is_pointer_v<typename FunctionTraits<F>::ReturnType> &&
          std::is_class_v<std::remove_pointer_t<typename FunctionTraits<F>::ReturnType>>> {};

// The class an actor factory makes (Counter for Counter* (*)(int)).
template <typename F>
using ActorTypeOf = std::remove_cv_t<std::remove_pointer_t<typename FunctionTraits<F>::ReturnType>>;

inline void CheckArgCount(size_t expected, size_t got, const char* what) {
  if (expected != got) {
    throw RayException(std::string(what) + " expects " + std::to_string(expected) +
                       " arguments, got " + std::to_string(got));
  }
}

// One argument as a parameter of type D: an ArrayView shares the bytes of
// an argument that has a keep-alive (array_view.h), others decode a copy.
template <typename D>
D DecodeArg(const ArgView& arg) {
  if constexpr (IsArrayView<D>::value) {
    return DecodeArrayView<typename D::value_type>(arg.data, arg.size, arg.keep_alive);
  } else {
    return Serializer::Deserialize<D>(arg.data, arg.size);
  }
}

// A task's result, sized first so that the runtime can write a large one
// straight into the object store (SerializeResult).
template <typename T>
std::string SerializeReturn(const T& value) {
  const size_t size = Serializer::SerializedSize(value);
  return SerializeResult(size, [&](char* dest) { Serializer::SerializeInto(value, dest, size); });
}

// Deserializes args[I] as the I-th parameter type of `Params` (a
// std::tuple of the parameter types) and calls `call` with them, passed as
// those parameters take them; returns the result serialized (void: nil).
template <typename R, typename Params, typename Call, size_t... I>
std::string CallWithArgs(Call&& call, const std::vector<ArgView>& args,
                         std::index_sequence<I...>) {
  // Braced initialization evaluates left to right.
  std::tuple<std::decay_t<std::tuple_element_t<I, Params>>...> values{
      DecodeArg<std::decay_t<std::tuple_element_t<I, Params>>>(args[I])...};
  if constexpr (std::is_void_v<R>) {
    call(static_cast<std::tuple_element_t<I, Params>&&>(std::get<I>(values))...);
    return Serializer::Serialize(msgpack::type::nil_t());
  } else {
    return SerializeReturn(
        call(static_cast<std::tuple_element_t<I, Params>&&>(std::get<I>(values))...));
  }
}

template <typename R, typename... Args>
Invoker MakeInvoker(R (*fn)(Args...)) {
  return [fn](const std::vector<ArgView>& args) -> std::string {
    CheckArgCount(sizeof...(Args), args.size(), "remote function");
    return CallWithArgs<R, std::tuple<Args...>>(
        [fn](auto&&... a) -> R { return fn(static_cast<decltype(a)&&>(a)...); }, args,
        std::index_sequence_for<Args...>{});
  };
}

// An actor factory is not a task: its result is a pointer.
inline Invoker FactoryTaskInvoker(const std::string& name) {
  return [name](const std::vector<ArgView>&) -> std::string {
    throw RayException(name + " returns a pointer and is an actor factory: create the actor "
                              "with ray::Actor(" + name + ").Remote(...)");
  };
}

template <typename C, typename... Args>
ActorFactory MakeActorFactory(C* (*fn)(Args...), const std::string& name) {
  return [fn, name](const std::vector<ArgView>& args) -> std::shared_ptr<void> {
    CheckArgCount(sizeof...(Args), args.size(), "actor factory");
    C* instance = nullptr;
    CallWithArgs<void, std::tuple<Args...>>(
        [fn, &instance](auto&&... a) { instance = fn(static_cast<decltype(a)&&>(a)...); },
        args, std::index_sequence_for<Args...>{});
    if (instance == nullptr) throw RayException("actor factory " + name + " returned null");
    using Mutable = std::remove_cv_t<C>;
    return std::shared_ptr<void>(const_cast<Mutable*>(instance),
                                 [](void* p) { delete static_cast<Mutable*>(p); });
  };
}

// The identity of a member function pointer: its bytes, which tell
// non-virtual functions apart, and its class's type name, which tells
// apart virtual ones (whose bytes are a vtable offset).
template <typename F>
std::string MethodKey(F fn) {
  static_assert(std::is_member_function_pointer_v<F>, "MethodKey takes &Class::Method");
  std::string key(reinterpret_cast<const char*>(&fn), sizeof(F));
  key += typeid(typename MemberTraits<F>::Class).name();
  return key;
}

// Runs `fn` on the instance an ActorFactory made, which must be of the
// class `fn` belongs to.
template <typename F>
MethodInvoker MakeMethodInvoker(F fn) {
  using Traits = MemberTraits<F>;
  using C = typename Traits::Class;
  return [fn](void* instance, const std::vector<ArgView>& args) -> std::string {
    CheckArgCount(Traits::kArity, args.size(), "actor method");
    C* self = static_cast<C*>(instance);
    return CallWithArgs<typename Traits::ReturnType, typename Traits::Params>(
        [self, fn](auto&&... a) -> typename Traits::ReturnType {
          return (self->*fn)(static_cast<decltype(a)&&>(a)...);
        },
        args, std::make_index_sequence<Traits::kArity>{});
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
// fixed by the class, so deduction only has to find the return type (and
// the class of a member), and exactly one overload of f (the one taking
// Args...) can supply it.
template <typename... Args>
struct OverloadOf {
  template <typename R>
  constexpr auto operator()(R (*fn)(Args...)) const {
    return fn;
  }
  template <typename R, typename C>
  constexpr auto operator()(R (C::*fn)(Args...)) const {
    return fn;
  }
  template <typename R, typename C>
  constexpr auto operator()(R (C::*fn)(Args...) const) const {
    return fn;
  }
};

template <typename F>
void RegisterRemote(const std::string& name, F fn) {
  if constexpr (std::is_member_function_pointer_v<F>) {
    RegisterActorMethod(name, MethodKey(fn), MakeMethodInvoker(fn));
  } else if constexpr (IsActorFactory<F>::value) {
    RegisterFunction(name, reinterpret_cast<const void*>(fn), FactoryTaskInvoker(name));
    RegisterActorFactory(name, MakeActorFactory(fn, name));
  } else {
    RegisterFunction(name, reinterpret_cast<const void*>(fn), MakeInvoker(fn));
  }
}

template <typename... Fs>
bool RegisterRemoteFunctions(const char* names_text, Fs... fns) {
  std::vector<std::string> names = SplitFunctionNames(names_text);
  size_t i = 0;
  (RegisterRemote(names.at(i++), fns), ...);
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
// RAY_FUNC(&C::m, int): the pointer to C::m(int), const or not.
#define RAY_FUNC(f, ...) ::ray::internal::OverloadOf<__VA_ARGS__>{}(f)
