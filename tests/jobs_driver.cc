// A driver for integration_jobs_test, run as a submitted job's entrypoint
// (it joins the cluster at RAY_ADDRESS, which the dashboard sets):
//   jobs_driver tasks N        N tasks of Square, all got; prints "sum=<s>"
//   jobs_driver hang PIDFILE   one task that writes its worker's pid to
//                              PIDFILE and sleeps; the driver waits for it
//                              forever (until the job is stopped)
//   jobs_driver page GATE      for the web page: 20 tasks of Square, one of
//                              Fails, two Counter actors (one named); prints
//                              "ready", then waits until the file GATE exists
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

int Square(int x) { return x * x; }

int Fails() { throw std::runtime_error("failing on purpose"); }

bool Exists(const std::string& path) { return ::access(path.c_str(), F_OK) == 0; }

int WritePidAndSleep(std::string pid_file) {
  {
    std::ofstream out(pid_file + ".tmp");
    out << ::getpid() << "\n";
  }
  std::rename((pid_file + ".tmp").c_str(), pid_file.c_str());
  while (true) std::this_thread::sleep_for(std::chrono::seconds(1));
  return 0;
}

}  // namespace

RAY_REMOTE(Square, Fails, WritePidAndSleep);

class Counter {
 public:
  static Counter* Create() { return new Counter(); }
  int Add(int x) { return total_ += x; }

 private:
  int total_ = 0;
};
RAY_REMOTE(Counter::Create, &Counter::Add);

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  ray::RayConfig config;
  ray::Init(config, argc, argv);
  if (mode == "tasks") {
    const int n = argc > 2 ? std::stoi(argv[2]) : 10;
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < n; ++i) refs.push_back(ray::Task(Square).Remote(i));
    long sum = 0;
    for (auto& ref : refs) sum += *ray::Get(ref);
    std::printf("sum=%ld\n", sum);
  } else if (mode == "hang" && argc > 2) {
    std::printf("started\n");
    std::fflush(stdout);
    ray::Get(ray::Task(WritePidAndSleep).Remote(std::string(argv[2])));
  } else if (mode == "page" && argc > 2) {
    std::vector<ray::ObjectRef<int>> refs;
    for (int i = 0; i < 20; ++i) refs.push_back(ray::Task(Square).Remote(i));
    for (auto& ref : refs) ray::Get(ref);
    try {
      ray::Get(ray::Task(Fails).Remote());
    } catch (const std::exception&) {
    }
    auto counter = ray::Actor(Counter::Create).Remote();
    auto named = ray::Actor(Counter::Create).SetName("page-counter").Remote();
    ray::Get(counter.Task(&Counter::Add).Remote(1));
    ray::Get(named.Task(&Counter::Add).Remote(2));
    std::printf("ready\n");
    std::fflush(stdout);
    while (!Exists(argv[2])) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } else {
    std::fprintf(stderr, "usage: jobs_driver tasks N | hang PIDFILE | page GATE\n");
    return 2;
  }
  ray::Shutdown();
  return 0;
}
