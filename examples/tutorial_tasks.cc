// Sections 1-3 of the Ray Core tutorial ("Zero to Hero"), in C++ on Lumen:
// sequential vs parallel tasks, the cluster's resources, a task DAG with
// interleaved worker output, and ray::Wait handing back results as they
// finish.
//
// One binary: the raylet starts this same executable as the worker, which
// takes over at ray::Init(). That is why Init comes first in main.
#include <ray/api.h>

#include <chrono>
#include <cstdio>
#include <iomanip>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

namespace {

using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

std::string Timestamp() {
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  int ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::ostringstream out;
  out << std::put_time(std::localtime(&t), "%H:%M:%S") << "." << std::setw(3) << std::setfill('0') << ms;
  return out.str();
}

template <typename T>
std::string ListToString(const std::vector<T>& values) {
  std::ostringstream out;
  out << "[";
  for (size_t i = 0; i < values.size(); ++i) out << (i ? ", " : "") << values[i];
  out << "]";
  return out.str();
}

std::string QuotedList(const std::vector<std::string>& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) out += (i ? ", '" : "'") + values[i] + "'";
  return out + "]";
}

}  // namespace

// --- Section 1 and 3: slow_square -----------------------------------------
int slow_square(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  return x * x;
}

// --- Section 3: the fetch -> process -> combine DAG ------------------------
std::string fetch_data(std::string source) {
  std::cout << "[" << Timestamp() << "] Fetching from " << source << "..." << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::cout << "[" << Timestamp() << "] Fetched " << source << std::endl;
  return "data_from_" + source;
}

std::string process(std::string data) {
  std::cout << "[" << Timestamp() << "] Processing " << data << "..." << std::endl;
  std::this_thread::sleep_for(std::chrono::seconds(1));
  std::cout << "[" << Timestamp() << "] Processed " << data << std::endl;
  return "processed(" + data + ")";
}

std::string combine(std::vector<ray::ObjectRef<std::string>> results) {
  std::vector<std::string> resolved;
  for (const auto& value : ray::Get(results)) resolved.push_back(*value);
  std::cout << "[" << Timestamp() << "] Combining: " << QuotedList(resolved) << std::endl;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::cout << "[" << Timestamp() << "] Combined!" << std::endl;
  return "combined(" + QuotedList(resolved) + ")";
}

// --- Section 3: ray::Wait ----------------------------------------------------
int variable_time_task(int i) {
  std::mt19937 gen(std::random_device{}());
  std::uniform_real_distribution<double> seconds(0.1, 2.0);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds(gen)));
  return i;
}

RAY_REMOTE(slow_square, fetch_data, process, combine, variable_time_task);

int main(int argc, char** argv) {
  // Section 2: start a 4-CPU local cluster with a 1 GiB object store.
  ray::RayConfig config;
  config.num_cpus = 4;
  config.object_store_memory = 1LL * 1024 * 1024 * 1024;
  ray::Init(config, argc, argv);

  std::cout << "== 1. The problem: sequential code is slow ==" << std::endl;
  auto start = Clock::now();
  std::vector<int> results;
  for (int i = 0; i < 8; ++i) results.push_back(slow_square(i));
  std::printf("Local (sequential): %.1fs\n", SecondsSince(start));
  std::cout << "Results: " << ListToString(results) << std::endl;

  std::cout << "\n== 2. Starting Lumen ==" << std::endl;
  std::map<std::string, double> resources;
  for (const auto& [name, amount] : ray::ClusterResources()) resources[name] = amount;
  std::cout << "{";
  bool first = true;
  for (const auto& [name, amount] : resources) {
    std::cout << (first ? "" : ", ") << "'" << name << "': " << std::fixed << std::setprecision(1)
              << amount;
    first = false;
  }
  std::cout << "}" << std::endl;

  std::cout << "\n== 3. Tasks: parallel functions ==" << std::endl;
  start = Clock::now();
  std::vector<ray::ObjectRef<int>> futures;
  for (int i = 0; i < 8; ++i) futures.push_back(ray::Task(slow_square).Remote(i));
  std::vector<int> parallel;
  for (const auto& v : ray::Get(futures)) parallel.push_back(*v);
  std::printf("Lumen (parallel): %.1fs\n", SecondsSince(start));
  std::cout << "Results: " << ListToString(parallel) << std::endl;

  std::cout << "\n-- Task dependencies (DAG) --" << std::endl;
  start = Clock::now();
  std::vector<ray::ObjectRef<std::string>> data_refs, processed_refs;
  for (std::string source : {"db", "api", "cache"}) data_refs.push_back(ray::Task(fetch_data).Remote(source));
  for (const auto& d : data_refs) processed_refs.push_back(ray::Task(process).Remote(d));
  auto final_ref = ray::Task(combine).Remote(processed_refs);
  std::string result = *ray::Get(final_ref);
  std::printf("\nTotal time: %.1fs\n", SecondsSince(start));
  std::cout << "Result: " << result << std::endl;

  std::cout << "\n-- ray::Wait: process results as they arrive --" << std::endl;
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 10; ++i) refs.push_back(ray::Task(variable_time_task).Remote(i));
  while (!refs.empty()) {
    auto ready = ray::Wait(refs, 1, -1);
    std::cout << "Got result: " << *ray::Get(ready.ready.front()) << std::endl;
    refs.assign(ready.unready.begin(), ready.unready.end());
  }

  ray::Shutdown();
  return 0;
}
