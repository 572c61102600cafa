// A driver for integration_ports_test (worker ports, issue 15 finding 8).
// Modes (RAY_ADDRESS names the cluster):
//   hold STOP_FILE N  runs N tasks at once, each of which waits until
//                     STOP_FILE exists; prints "running" once all N run
//                     (a file per task appears beside STOP_FILE), then
//                     "done" when they have returned
//   one               one task; prints "answer=42", or on a task error
//                     "task failed: <what()>" and exits 4
#include <ray/api.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

namespace {

int Answer() { return 42; }

// Marks itself running, then waits for the stop file.
int Hold(std::string stop_file, int index) {
  std::ofstream(stop_file + ".running." + std::to_string(index)) << "1";
  while (!std::filesystem::exists(stop_file)) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  return index;
}

}  // namespace

RAY_REMOTE(Answer, Hold);

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "one";
  ray::Init();
  if (mode == "hold" && argc > 3) {
    const std::string stop_file = argv[2];
    const int n = std::stoi(argv[3]);
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < n; ++i) refs.push_back(ray::Task(Hold).Remote(stop_file, i));
    for (int i = 0; i < n; ++i) {
      while (!std::filesystem::exists(stop_file + ".running." + std::to_string(i))) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    std::cout << "running" << std::endl;
    for (auto& ref : refs) ray::Get(ref);
    std::cout << "done" << std::endl;
  } else {
    try {
      std::cout << "answer=" << *ray::Get(ray::Task(Answer).Remote()) << std::endl;
    } catch (const ray::internal::RayException& e) {
      std::cout << "task failed: " << e.what() << std::endl;
      ray::Shutdown();
      return 4;
    }
  }
  ray::Shutdown();
  return 0;
}
