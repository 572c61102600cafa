// A driver for integration_tenants_test, built twice: tenant_driver_a
// (TENANT_OFFSET 1000) and tenant_driver_b (TENANT_OFFSET 0). Each has its
// own Answer(), so a task that runs in the other binary's workers returns
// the other binary's answer. Joins the cluster at RAY_ADDRESS. Modes:
//   loop STOP_FILE  run Answer(1) over and over, print "ready" after the first,
//                   until STOP_FILE exists; then "done count=N"
//   once            run Answer(1) once and print "answer=N"
//   busy STOP_FILE  keep 64 tasks of 50 ms in flight, print "ready" once the
//                   first has run, until STOP_FILE exists; then "done count=N"
//   pair            run two tasks of 200 ms at once; print "pair_ms=N"
// A wrong answer prints "WRONG answer=N" and exits 2; an error exits 1.
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <iostream>
#include <string>
#include <thread>

#ifndef TENANT_OFFSET
#error "build with -DTENANT_OFFSET=<int>"
#endif

int Answer(int x) { return x + TENANT_OFFSET; }
RAY_REMOTE(Answer);

int Nap(int ms) {
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  return ms;
}
RAY_REMOTE(Nap);

namespace {

// Keeps `window` naps in flight until `stop_file` exists.
long Busy(const char* stop_file) {
  constexpr size_t kWindow = 64;
  std::deque<ray::ObjectRef<int>> in_flight;
  long count = 0;
  while (::access(stop_file, F_OK) != 0) {
    while (in_flight.size() < kWindow) in_flight.push_back(ray::Task(Nap).Remote(50));
    ray::Get(in_flight.front());
    in_flight.pop_front();
    if (++count == 1) std::cout << "ready" << std::endl;
  }
  for (auto& ref : in_flight) ray::Get(ref);
  return count;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "once";
  try {
    ray::RayConfig config;
    ray::Init(config, argc, argv);
    if (mode == "busy") {
      std::cout << "done count=" << Busy(argv[2]) << std::endl;
      ray::Shutdown();
      return 0;
    }
    if (mode == "pair") {
      const auto start = std::chrono::steady_clock::now();
      auto first = ray::Task(Nap).Remote(200);
      auto second = ray::Task(Nap).Remote(200);
      ray::Get(first);
      ray::Get(second);
      std::cout << "pair_ms="
                << std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::steady_clock::now() - start)
                       .count()
                << std::endl;
      ray::Shutdown();
      return 0;
    }
    long count = 0;
    do {
      const int answer = *ray::Get(ray::Task(Answer).Remote(1));
      if (answer != 1 + TENANT_OFFSET) {
        std::cout << "WRONG answer=" << answer << std::endl;
        return 2;
      }
      if (mode == "once") {
        std::cout << "answer=" << answer << std::endl;
        break;
      }
      if (++count == 1) std::cout << "ready" << std::endl;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (::access(argv[2], F_OK) != 0);
    if (mode == "loop") std::cout << "done count=" << count << std::endl;
    ray::Shutdown();
  } catch (const std::exception& e) {
    std::cout << "error: " << e.what() << std::endl;
    return 1;
  }
  return 0;
}
