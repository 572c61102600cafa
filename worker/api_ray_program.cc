// A Ray C++ program's remote code (see api_ray_program.h). Compiled as
// C++17, including nothing but <ray/api.h> (through the header).
#include "worker/api_ray_program.h"

namespace api_program {

Counter* CreateCounter(int start) { return new Counter(start); }
Counter* CreateCounter(int start, int step) { return new Counter(start + step); }
Counter* CreateNull() { return nullptr; }
Counter* CreateThrowing(int start) {
  if (start < 0) throw std::invalid_argument("negative start");
  return new Counter(start);
}

ray::ActorHandle<Counter> PassHandle(ray::ActorHandle<Counter> handle) { return handle; }
Directory Describe(Directory directory) {
  directory.label += "!";
  return directory;
}

std::string UseStandardNames() {
  std::any any_value = std::string("any");
  boost::optional<int> maybe = 7;
  std::string out = std::any_cast<std::string>(any_value) + std::to_string(*maybe);
  std::cout << std::flush;
  return out;
}

int CallEveryActorEntryPoint() {
  int thrown = 0;
  auto expect_throw = [&thrown](auto&& call) {
    try {
      call();
    } catch (const ray::internal::RayException&) {
      ++thrown;
    }
  };
  // The calls of the tutorial's actor cells, with every option.
  ray::RuntimeEnv env;
  env.Set("env_vars", std::map<std::string, std::string>{{"MODE", "fast"}});
  expect_throw([&] {
    ray::ActorHandle<Counter> counter = ray::Actor(RAY_FUNC(CreateCounter, int))
                                            .SetName("counter")
                                            .SetName("counter", "ns")
                                            .SetResources({{"CPU", 1}})
                                            .SetResource("memory", 1024)
                                            .SetMaxRestarts(1)
                                            .SetMaxConcurrency(2)
                                            .SetMaxTaskRetries(-1)
                                            .SetLifetime(ray::ActorLifetime::DETACHED)
                                            .SetRuntimeEnv(env)
                                            .Remote(10);
    (void)counter;
  });
  expect_throw([] { ray::Actor(Counter::FactoryCreate).Remote(); });
  ray::ActorHandle<Counter> handle("0123456789abcdef");
  expect_throw([&] {
    ray::ObjectRef<int> ref = handle.Task(RAY_FUNC(&Counter::Add, int)).SetName("add").Remote(1);
    (void)ref;
  });
  expect_throw([&] { handle.Task(&Counter::Get).Remote(); });
  expect_throw([&] { handle.Task(&Counter::Reset).Remote(); });
  expect_throw([&] { handle.Kill(); });
  expect_throw([&] { handle.Kill(false); });
  expect_throw([] {
    boost::optional<ray::ActorHandle<Counter>> found = ray::GetActor<Counter>("counter");
    (void)found;
  });
  expect_throw([] { ray::GetActor<Counter>("counter", "ns"); });
  expect_throw([] { ray::WasCurrentActorRestarted(); });
  expect_throw([] { ray::GetNamespace(); });
  expect_throw([] { ray::ExitActor(); });
  expect_throw([] { ray::Task(PassHandle).SetRuntimeEnv(ray::RuntimeEnv()).Remote(ray::ActorHandle<Counter>()); });
  return thrown;
}

}  // namespace api_program

RAY_REMOTE(api_program::Counter::FactoryCreate, RAY_FUNC(api_program::CreateCounter, int),
           RAY_FUNC(api_program::CreateCounter, int, int), api_program::CreateNull,
           api_program::CreateThrowing, RAY_FUNC(&api_program::Counter::Add, int),
           RAY_FUNC(&api_program::Counter::Add, int, int), &api_program::Counter::Get,
           &api_program::Counter::Reset, &api_program::Counter::Describe);
RAY_REMOTE(api_program::PassHandle, api_program::Describe);
