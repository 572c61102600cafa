#include "worker/function_registry.h"

#include <catch2/catch.hpp>

#include "ray/api.h"

namespace {
int Add(int a, int b) { return a + b; }
std::string Greet(std::string name) { return "hi " + name; }
int Throws(int) { throw std::invalid_argument("bad input"); }
int Overloaded(int a) { return a * 10; }
int Overloaded(int a, int b) { return a - b; }
std::string Overloaded(std::string s) { return s + "!"; }
}  // namespace

RAY_REMOTE(Add, Greet, Throws);
RAY_REMOTE(RAY_FUNC(Overloaded, int), RAY_FUNC(Overloaded, int, int));
RAY_REMOTE(RAY_FUNC(Overloaded, std::string));

using lumen::worker::FunctionRegistry;
using ray::internal::Serializer;

static std::string Call(const std::string& name, const std::vector<std::string>& args) {
  std::vector<ray::internal::ArgView> views;
  for (const auto& a : args) views.push_back({a.data(), a.size()});
  return (*FunctionRegistry::Instance().Find(name))(views);
}

TEST_CASE("RAY_REMOTE registers functions by name and pointer") {
  CHECK(FunctionRegistry::Instance().NameOf(reinterpret_cast<const void*>(&Add)) == "Add");
  CHECK(FunctionRegistry::Instance().NameOf(reinterpret_cast<const void*>(&Greet)) == "Greet");
  CHECK_FALSE(FunctionRegistry::Instance().Find("Missing"));
  std::string out = Call("Add", {Serializer::Serialize(2), Serializer::Serialize(40)});
  CHECK(Serializer::Deserialize<int>(out.data(), out.size()) == 42);
  out = Call("Greet", {Serializer::Serialize(std::string("bob"))});
  CHECK(Serializer::Deserialize<std::string>(out.data(), out.size()) == "hi bob");
}

TEST_CASE("invokers check arity and pass exceptions through") {
  CHECK_THROWS_WITH(Call("Add", {Serializer::Serialize(1)}),
                    Catch::Contains("expects 2 arguments, got 1"));
  CHECK_THROWS_AS(Call("Throws", {Serializer::Serialize(1)}), std::invalid_argument);
  CHECK_THROWS_AS(Call("Add", {Serializer::Serialize(std::string("x")), Serializer::Serialize(1)}),
                  ray::internal::RayException);
}

TEST_CASE("function names split at top-level commas only") {
  auto names = ray::internal::SplitFunctionNames("f, RAY_FUNC(g, int), &h");
  CHECK(names == std::vector<std::string>{"f", "RAY_FUNC(g,int)", "h"});
}

TEST_CASE("RAY_FUNC selects overloads of any arity") {
  using OneInt = int (*)(int);
  using TwoInts = int (*)(int, int);
  using OneString = std::string (*)(std::string);
  static_assert(std::is_same_v<decltype(RAY_FUNC(Overloaded, int)), OneInt>);
  static_assert(std::is_same_v<decltype(RAY_FUNC(Overloaded, int, int)), TwoInts>);
  static_assert(std::is_same_v<decltype(RAY_FUNC(Overloaded, std::string)), OneString>);
  OneInt one = RAY_FUNC(Overloaded, int);
  TwoInts two = RAY_FUNC(Overloaded, int, int);
  CHECK(one(4) == 40);
  CHECK(two(5, 3) == 2);
  CHECK(RAY_FUNC(Overloaded, std::string)("hey") == "hey!");

  auto& registry = FunctionRegistry::Instance();
  std::string one_name = registry.NameOf(reinterpret_cast<const void*>(one)).value_or("");
  std::string two_name = registry.NameOf(reinterpret_cast<const void*>(two)).value_or("");
  CHECK(one_name == "RAY_FUNC(Overloaded,int)");
  CHECK(two_name == "RAY_FUNC(Overloaded,int,int)");
  std::string out = Call(two_name, {Serializer::Serialize(5), Serializer::Serialize(3)});
  CHECK(Serializer::Deserialize<int>(out.data(), out.size()) == 2);
  out = Call(one_name, {Serializer::Serialize(4)});
  CHECK(Serializer::Deserialize<int>(out.data(), out.size()) == 40);
  out = Call("RAY_FUNC(Overloaded,std::string)", {Serializer::Serialize(std::string("yo"))});
  CHECK(Serializer::Deserialize<std::string>(out.data(), out.size()) == "yo!");

  // ray::Task accepts the selected overload; Remote checks its arity.
  ray::internal::TaskCaller<TwoInts> caller = ray::Task(RAY_FUNC(Overloaded, int, int));
  static_assert(decltype(caller)::Traits::kArity == 2);
}
