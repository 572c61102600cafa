// A driver for integration_join_test. Modes:
//   join      connect to RAY_ADDRESS; functions come from the shared library
//             on --ray_code_search_path (loaded by lumen-worker)
//   head-args start a private cluster configured through RayConfig::head_args
// Prints one "key=value" line per check; exit 1 with the error on failure.
#include <ray/api.h>

#include <iostream>
#include <map>

#include "tests/join_tasks.h"

int main(int argc, char** argv) {
  std::string mode = argc > 1 ? argv[1] : "join";
  try {
    ray::RayConfig config;
    if (mode == "head-args") config.head_args = {"--num-cpus=3", "--resources={\"gadget\": 2}"};
    ray::Init(config, argc, argv);
    auto scaled = ray::Get(ray::Task(Scale).Remote(Point{1.5, -2, "p"}, 2.0));
    std::cout << "scaled=" << scaled->x << "," << scaled->y << "," << scaled->label << std::endl;
    std::cout << "twice_int=" << *ray::Get(ray::Task(RAY_FUNC(Twice, int)).Remote(21)) << std::endl;
    std::cout << "twice_str="
              << *ray::Get(ray::Task(RAY_FUNC(Twice, std::string)).Remote(std::string("ab")))
              << std::endl;
    // Get before printing: the worker's forwarded line is printed meanwhile.
    std::string shout = *ray::Get(ray::Task(Shout).Remote(std::string("hey")));
    std::cout << "shout=" << shout << std::endl;
    std::cout << "worker_pid=" << *ray::Get(ray::Task(Pid).Remote()) << std::endl;
    std::map<std::string, double> total;
    for (const auto& [k, v] : ray::ClusterResources()) total[k] = v;
    std::cout << "cpus=" << total["CPU"] << std::endl;
    std::cout << "gadget=" << total["gadget"] << std::endl;
    ray::Shutdown();
  } catch (const std::exception& e) {
    std::cerr << "driver error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
