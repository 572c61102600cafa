// The actor API of include/ray/api (actor_creator.h, actor_handle.h,
// actor_task_caller.h, runtime_env.h, RAY_REMOTE of factories and methods)
// against the function registry, without a cluster: what RAY_REMOTE
// registered and under which names, factories and methods run through the
// registered invokers, handles as msgpack values, option checks, RuntimeEnv.
// The program under test is api_ray_program.cc, compiled as C++17.
#include "worker/api_ray_program.h"

#include <catch2/catch.hpp>

#include "worker/function_registry.h"

using api_program::Counter;
using api_program::Directory;
using lumen::worker::FunctionRegistry;
using ray::internal::ArgView;
using ray::internal::Serializer;

namespace {

std::vector<ArgView> Views(const std::vector<std::string>& args) {
  std::vector<ArgView> views;
  for (const auto& a : args) views.push_back({a.data(), a.size()});
  return views;
}

std::shared_ptr<void> Make(const std::string& factory, const std::vector<std::string>& args) {
  auto found = FunctionRegistry::Instance().FindFactory(factory);
  REQUIRE(found);
  return (*found)(Views(args));
}

template <typename R>
R Call(void* instance, const std::string& method, const std::vector<std::string>& args) {
  auto found = FunctionRegistry::Instance().FindMethod(method);
  REQUIRE(found);
  std::string out = (*found)(instance, Views(args));
  return Serializer::Deserialize<R>(out.data(), out.size());
}

template <typename F>
std::string NameOfMethod(F method) {
  return FunctionRegistry::Instance()
      .MethodNameOf(ray::internal::MethodKey(method))
      .value_or("(not registered)");
}

class Unregistered {
 public:
  int Ping() { return 1; }
};
Unregistered* CreateUnregistered() { return new Unregistered(); }

}  // namespace

TEST_CASE("RAY_REMOTE registers factories and methods under their source names") {
  auto& registry = FunctionRegistry::Instance();
  for (const char* factory :
       {"api_program::Counter::FactoryCreate", "RAY_FUNC(api_program::CreateCounter,int)",
        "RAY_FUNC(api_program::CreateCounter,int,int)", "api_program::CreateNull",
        "api_program::CreateThrowing"}) {
    CAPTURE(factory);
    CHECK(registry.FindFactory(factory));
    CHECK(registry.Find(factory));  // Also a function, so ray::Actor finds its name.
  }
  CHECK_FALSE(registry.FindFactory("api_program::PassHandle"));  // A plain function.
  CHECK(registry.Find("api_program::PassHandle"));
  CHECK_FALSE(registry.FindFactory("Missing"));
  CHECK_FALSE(registry.FindMethod("Missing"));

  // Overloads, const members and void members, keyed by the pointer.
  CHECK(NameOfMethod(RAY_FUNC(&Counter::Add, int)) == "RAY_FUNC(&api_program::Counter::Add,int)");
  CHECK(NameOfMethod(RAY_FUNC(&Counter::Add, int, int)) ==
        "RAY_FUNC(&api_program::Counter::Add,int,int)");
  CHECK(NameOfMethod(&Counter::Get) == "api_program::Counter::Get");
  CHECK(NameOfMethod(&Counter::Reset) == "api_program::Counter::Reset");
  CHECK(NameOfMethod(&Counter::Describe) == "api_program::Counter::Describe");
  CHECK(NameOfMethod(&Unregistered::Ping) == "(not registered)");
  CHECK(ray::internal::MethodKey(RAY_FUNC(&Counter::Add, int)) !=
        ray::internal::MethodKey(RAY_FUNC(&Counter::Add, int, int)));
  CHECK(ray::internal::MethodName(ray::internal::MethodKey(&Counter::Get)) ==
        "api_program::Counter::Get");
  CHECK_THROWS_AS(ray::internal::MethodName(ray::internal::MethodKey(&Unregistered::Ping)),
                  ray::internal::RayFunctionNotFound);
}

TEST_CASE("a factory makes an instance the methods run on, and the actor owns it") {
  int live_before = api_program::g_live_counters;
  {
    std::shared_ptr<void> counter =
        Make("RAY_FUNC(api_program::CreateCounter,int)", {Serializer::Serialize(10)});
    CHECK(api_program::g_live_counters == live_before + 1);
    CHECK(Call<int>(counter.get(), "RAY_FUNC(&api_program::Counter::Add,int)",
                    {Serializer::Serialize(1)}) == 11);
    CHECK(Call<int>(counter.get(), "RAY_FUNC(&api_program::Counter::Add,int,int)",
                    {Serializer::Serialize(2), Serializer::Serialize(3)}) == 16);
    CHECK(Call<int>(counter.get(), "api_program::Counter::Get", {}) == 16);
    CHECK(Call<std::string>(counter.get(), "api_program::Counter::Describe",
                            {Serializer::Serialize(std::string("n="))}) == "n=16");
    // void: nil.
    auto reset = *FunctionRegistry::Instance().FindMethod("api_program::Counter::Reset");
    std::string out = reset(counter.get(), {});
    CHECK(out == Serializer::Serialize(msgpack::type::nil_t()));
    CHECK(Call<int>(counter.get(), "api_program::Counter::Get", {}) == 0);

    std::shared_ptr<void> two = Make("RAY_FUNC(api_program::CreateCounter,int,int)",
                                     {Serializer::Serialize(1), Serializer::Serialize(2)});
    CHECK(Call<int>(two.get(), "api_program::Counter::Get", {}) == 3);
    std::shared_ptr<void> zero = Make("api_program::Counter::FactoryCreate", {});
    CHECK(Call<int>(zero.get(), "api_program::Counter::Get", {}) == 0);
    CHECK(api_program::g_live_counters == live_before + 3);
  }
  CHECK(api_program::g_live_counters == live_before);  // The deleters ran.
}

TEST_CASE("factory and method failures reach the caller of the invoker") {
  CHECK_THROWS_AS(Make("api_program::CreateThrowing", {Serializer::Serialize(-1)}),
                  std::invalid_argument);
  CHECK_THROWS_WITH(Make("api_program::CreateNull", {}), Catch::Contains("returned null"));
  CHECK_THROWS_WITH(Make("RAY_FUNC(api_program::CreateCounter,int)", {}),
                    Catch::Contains("actor factory expects 1 arguments, got 0"));
  CHECK_THROWS_AS(Make("RAY_FUNC(api_program::CreateCounter,int)",
                       {Serializer::Serialize(std::string("ten"))}),
                  ray::internal::RayException);
  std::shared_ptr<void> counter = Make("api_program::Counter::FactoryCreate", {});
  CHECK_THROWS_WITH(Call<int>(counter.get(), "api_program::Counter::Get",
                              {Serializer::Serialize(1)}),
                    Catch::Contains("actor method expects 0 arguments, got 1"));
  // A factory is not a task.
  auto as_task = *FunctionRegistry::Instance().Find("RAY_FUNC(api_program::CreateCounter,int)");
  std::string arg = Serializer::Serialize(1);
  CHECK_THROWS_WITH(as_task(Views({arg})), Catch::Contains("is an actor factory"));
}

TEST_CASE("actor handles are msgpack values: arguments, results, nested") {
  ray::ActorHandle<Counter> empty;
  CHECK(empty.ID().empty());
  std::string id("\x01\x02\x00\xff id", 7);
  ray::ActorHandle<Counter> handle(id);
  CHECK(handle.ID() == id);
  ray::ActorHandle<Counter> copy = handle;
  CHECK(copy == handle);
  CHECK(copy != empty);
  CHECK_THROWS_WITH(empty.Task(&Counter::Get), Catch::Contains("names no actor"));
  CHECK_THROWS_WITH(empty.Kill(), Catch::Contains("names no actor"));

  std::string bytes = Serializer::Serialize(handle);
  CHECK(Serializer::Deserialize<ray::ActorHandle<Counter>>(bytes.data(), bytes.size()).ID() == id);
  CHECK(ray::ActorHandle<Counter>::FromBytes(bytes).ID() == id);
  CHECK_THROWS_AS(ray::ActorHandle<Counter>::FromBytes("not msgpack"), ray::internal::RayException);

  // Through a registered function, as a worker runs a task taking and
  // returning a handle.
  auto pass = *FunctionRegistry::Instance().Find("api_program::PassHandle");
  std::string out = pass(Views({bytes}));
  CHECK(Serializer::Deserialize<ray::ActorHandle<Counter>>(out.data(), out.size()).ID() == id);

  Directory directory{"dir", handle, {handle, empty}};
  auto describe = *FunctionRegistry::Instance().Find("api_program::Describe");
  out = describe(Views({Serializer::Serialize(directory)}));
  Directory back = Serializer::Deserialize<Directory>(out.data(), out.size());
  CHECK(back.label == "dir!");
  CHECK(back.counter.ID() == id);
  REQUIRE(back.others.size() == 2);
  CHECK(back.others[0].ID() == id);
  CHECK(back.others[1].ID().empty());

  // A handle given for a handle parameter is a value, not a reference.
  ray::internal::TaskArg arg = ray::internal::MakeTaskArg<ray::ActorHandle<Counter>>(handle);
  CHECK_FALSE(arg.is_ref);
  CHECK(arg.value == bytes);
}

TEST_CASE("ActorCreator records its options and refuses bad ones") {
  ray::RuntimeEnv env;
  env.Set("env_vars", std::map<std::string, std::string>{{"MODE", "fast"}});
  auto creator = ray::Actor(RAY_FUNC(api_program::CreateCounter, int));
  static_assert(std::is_same_v<decltype(creator.Remote(1)), ray::ActorHandle<Counter>>);
  static_assert(
      std::is_same_v<ray::internal::GetActorType<decltype(&api_program::CreateNull)>, Counter>);
  creator.SetName("c", "ns")
      .SetResources({{"CPU", 2}})
      .SetResource("GPU", 1)
      .SetMaxRestarts(-1)
      .SetMaxConcurrency(3)
      .SetMaxTaskRetries(2)
      .SetLifetime(ray::ActorLifetime::DETACHED)
      .SetRuntimeEnv(env);
  const ray::internal::ActorOptions& options = creator.Options();
  CHECK(options.name == "c");
  CHECK(options.ray_namespace == "ns");
  CHECK(options.resources == std::unordered_map<std::string, double>{{"CPU", 2}, {"GPU", 1}});
  CHECK(options.max_restarts == -1);
  CHECK(options.max_concurrency == 3);
  CHECK(options.max_task_retries == 2);
  CHECK(options.lifetime == 1);
  CHECK(options.runtime_env_json == R"({"env_vars":{"MODE":"fast"}})");
  creator.SetLifetime(ray::ActorLifetime::NON_DETACHED).SetName("d");
  CHECK(options.lifetime == 0);
  CHECK(options.name == "d");
  CHECK(options.ray_namespace == "ns");
  CHECK(ray::Actor(api_program::CreateNull).Options().lifetime == -1);  // RayConfig's default.
  CHECK(ray::RayConfig().default_actor_lifetime == ray::ActorLifetime::NON_DETACHED);

  CHECK_THROWS_AS(creator.SetMaxConcurrency(0), std::invalid_argument);
  CHECK_THROWS_AS(creator.SetMaxRestarts(-2), std::invalid_argument);
  CHECK_THROWS_AS(creator.SetMaxTaskRetries(-5), std::invalid_argument);
  CHECK_THROWS_AS(creator.SetResource("CPU", -1), std::invalid_argument);
  CHECK_THROWS_AS(creator.SetResources({{"bad name", 1}}), std::invalid_argument);
  CHECK(options.max_concurrency == 3);  // Unchanged by the refused values.
  CHECK(options.max_restarts == -1);

  CHECK_THROWS_AS(ray::Actor(CreateUnregistered), ray::internal::RayFunctionNotFound);
  ray::ActorHandle<Unregistered> stranger("x");
  CHECK_THROWS_AS(stranger.Task(&Unregistered::Ping), ray::internal::RayFunctionNotFound);
}

TEST_CASE("SetRuntimeEnv refuses what Lumen cannot honour") {
  auto creator = ray::Actor(api_program::CreateNull);
  auto task = ray::Task(api_program::PassHandle);
  auto refused = [&](const ray::RuntimeEnv& env, const std::string& why) {
    CAPTURE(env.Serialize());
    CHECK_THROWS_WITH(creator.SetRuntimeEnv(env), Catch::Contains(why));
    CHECK_THROWS_AS(task.SetRuntimeEnv(env), ray::internal::RayRuntimeEnvException);
  };
  ray::RuntimeEnv env;
  env.Set("env_vars", std::vector<std::string>{"A=1"});
  refused(env, "must be a map of strings");
  env.Set("env_vars", std::map<std::string, int>{{"A", 1}});
  refused(env, "the value of A must be a string");
  env.Set("env_vars", std::map<std::string, std::string>{{"A=B", "1"}});
  refused(env, "bad variable name");
  env.Set("env_vars", std::map<std::string, std::string>{{"", "1"}});
  refused(env, "bad variable name");
  env.Set("env_vars", std::map<std::string, std::string>{{"A", std::string("a\0b", 3)}});
  refused(env, "NUL");
  env.Remove("env_vars");
  env.Set("working_dir", std::string("/tmp"));
  refused(env, "\"working_dir\" is not supported");

  CHECK(ray::internal::SerializeRuntimeEnv(ray::RuntimeEnv()) == "");
  CHECK(creator.SetRuntimeEnv(ray::RuntimeEnv()).Options().runtime_env_json.empty());
  CHECK_NOTHROW(task.SetRuntimeEnv(ray::RuntimeEnv()));
}

TEST_CASE("RuntimeEnv: Set, Get, Contains, Remove, Empty, JSON strings, serialization") {
  ray::RuntimeEnv env;
  CHECK(env.Empty());
  CHECK(env.Serialize() == "{}");
  std::map<std::string, std::string> vars{{"A", "1"}, {"B", "two"}};
  env.Set("env_vars", vars);
  CHECK_FALSE(env.Empty());
  CHECK(env.Contains("env_vars"));
  CHECK(env.Get<std::map<std::string, std::string>>("env_vars") == vars);
  CHECK(env.GetJsonStr("env_vars") == R"({"A":"1","B":"two"})");
  CHECK_THROWS_WITH(env.Get<int>("env_vars"), Catch::Contains("Failed to get the field env_vars"));
  CHECK_THROWS_WITH(env.Get<int>("absent"), Catch::Contains("The field absent not found."));
  CHECK_THROWS_AS(env.GetJsonStr("absent"), ray::internal::RayRuntimeEnvException);

  env.SetJsonStr("config", R"({"setup_timeout_seconds": 10})");
  CHECK(env.Get<nlohmann::json>("config")["setup_timeout_seconds"] == 10);
  CHECK_THROWS_AS(env.SetJsonStr("config", "{not json"), ray::internal::RayRuntimeEnvException);

  ray::RuntimeEnv back = ray::RuntimeEnv::Deserialize(env.Serialize());
  CHECK(back.Serialize() == env.Serialize());
  CHECK(back.Get<std::map<std::string, std::string>>("env_vars") == vars);
  CHECK(back.Remove("config"));
  CHECK_FALSE(back.Remove("config"));
  CHECK(back.Remove("env_vars"));
  CHECK(back.Empty());
  CHECK(env.Contains("config"));  // A copy, not shared.
  CHECK_THROWS_AS(ray::RuntimeEnv::Deserialize("[1, 2]"), ray::internal::RayRuntimeEnvException);
  CHECK_THROWS_AS(ray::RuntimeEnv::Deserialize("nope"), ray::internal::RayRuntimeEnvException);
}

TEST_CASE("the API's actor calls compile with Ray's types and fail cleanly before Init") {
  static_assert(std::is_same_v<decltype(ray::GetActor<Counter>("c")),
                               boost::optional<ray::ActorHandle<Counter>>>);
  static_assert(std::is_same_v<decltype(ray::GetActor<Counter>("c", "ns")),
                               boost::optional<ray::ActorHandle<Counter>>>);
  ray::ActorHandle<Counter> handle("id");
  static_assert(std::is_same_v<decltype(handle.Task(&Counter::Get).Remote()), ray::ObjectRef<int>>);
  static_assert(std::is_same_v<decltype(handle.Task(&Counter::Reset).Remote()),
                               ray::ObjectRef<void>>);
  static_assert(std::is_same_v<decltype(ray::Get(handle.Task(&Counter::Reset).Remote())), void>);
  static_assert(std::is_same_v<decltype(handle.Task(&Counter::Describe).Remote(std::string())),
                               ray::ObjectRef<std::string>>);
  static_assert(std::is_same_v<decltype(ray::GetNamespace()), std::string>);
  static_assert(std::is_same_v<decltype(ray::WasCurrentActorRestarted()), bool>);

  CHECK(api_program::UseStandardNames() == "any7");
  REQUIRE_FALSE(ray::IsInitialized());
  CHECK(api_program::CallEveryActorEntryPoint() == 13);
  CHECK_THROWS_WITH(ray::GetActor<Counter>(""), Catch::Contains("cannot be an empty string"));
  CHECK_THROWS_WITH(ray::Actor(api_program::CreateNull).Remote(),
                    Catch::Contains("not initialized"));
  CHECK_THROWS_WITH(handle.Task(&Counter::Get).Remote(), Catch::Contains("not initialized"));
}

TEST_CASE("SetSchedulingStrategy fills the actor's options; a malformed node id is refused") {
  const std::string node(56, 'a');
  auto creator = ray::Actor(api_program::CreateNull);
  const auto& options =
      creator.SetSchedulingStrategy(ray::SchedulingStrategy::NodeAffinity(node, true)).Options();
  CHECK(options.scheduling_kind == static_cast<int>(ray::SchedulingStrategy::Kind::NODE_AFFINITY));
  CHECK(options.affinity_node_id == node);
  CHECK(options.affinity_soft);
  CHECK(creator.SetSchedulingStrategy(ray::SchedulingStrategy::Spread()).Options().scheduling_kind ==
        static_cast<int>(ray::SchedulingStrategy::Kind::SPREAD));
  CHECK_THROWS_WITH(ray::SchedulingStrategy::NodeAffinity("abc"),
                    Catch::Contains("a node id of 56 hex digits, not \"abc\""));
  CHECK_THROWS_AS(ray::SchedulingStrategy::NodeAffinity(std::string(56, 'z')), std::invalid_argument);
}
