#include "worker/function_registry.h"

#include <catch2/catch.hpp>

#include "ray/api.h"

namespace {
int Add(int a, int b) { return a + b; }
std::string Greet(std::string name) { return "hi " + name; }
int Throws(int) { throw std::invalid_argument("bad input"); }
}  // namespace

RAY_REMOTE(Add, Greet, Throws);

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
