// A driver for integration_operator_test: what an operator's driver sees.
// Modes:
//   run        ray::Init (RAY_ADDRESS), one task, prints "answer=42"
//   caught     ray::Init inside try/catch of ray::internal::RayException;
//              prints "caught: <what()>" and exits 3
//   uncaught   ray::Init with nothing catching what it throws
//   num-cpus   ray::Init with RayConfig::num_cpus set (caught as above)
#include <ray/api.h>

#include <iostream>
#include <string>

namespace {

int Answer() { return 42; }

}  // namespace

RAY_REMOTE(Answer);

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "run";
  ray::RayConfig config;
  if (mode == "num-cpus") config.num_cpus = 2;
  if (mode == "uncaught") {
    ray::Init(config, argc, argv);
    std::cout << "initialized" << std::endl;
    ray::Shutdown();
    return 0;
  }
  try {
    ray::Init(config, argc, argv);
  } catch (const ray::internal::RayException& e) {
    std::cout << "caught: " << e.what() << std::endl;
    return 3;
  }
  std::cout << "answer=" << *ray::Get(ray::Task(Answer).Remote()) << std::endl;
  ray::Shutdown();
  return 0;
}
