// A driver for chaos_test: joins the cluster at RAY_ADDRESS and runs a
// steady stream of tasks while the test kills processes or drops RPCs
// around it. Usage:
//   chaos_driver STOP_FILE [GET_TIMEOUT_MS] [MAX_TASKS]
// Rounds of four small tasks (Add, each sleeping a little so that kills land
// mid-task) and one large one (Blob: a 1 MiB string, stored in plasma), each
// awaited with ray::Get(ref, GET_TIMEOUT_MS) (default 60,000). One line per
// task, in submission order:
//   ok N             the right value came back
//   error N TYPE: M  the Get threw TYPE (RayWorkerException, ...) saying M
//   wrong N          a value came back, but not the right one
//   hang N           the Get timed out
// The stream stops when STOP_FILE exists (checked before each round), after
// MAX_TASKS tasks, or after the round of the first hang (a stuck cluster
// would only add a timeout per task; the rest of that round waits 1 s per
// task); then "summary ok=A error=B wrong=C hang=D", a
// clean ray::Shutdown and exit 0. Exit 1 when Init fails.
#include <ray/api.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kSmallPerRound = 4;
constexpr size_t kBlobBytes = 1 << 20;  // Above the 100 KiB inline limit.

int Add(int x) {
  std::this_thread::sleep_for(std::chrono::milliseconds(5));
  return x + 1;
}

std::string Blob(int x) { return std::string(kBlobBytes, static_cast<char>('a' + x % 26)); }

struct Counts {
  long ok = 0, error = 0, wrong = 0, hang = 0;
};

// One line of text: a multi-line message must not split the record.
std::string OneLine(std::string text) {
  for (char& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

// Awaits `ref` and prints its line; `check` says whether the value is right.
template <typename T, typename Check>
void Await(long n, const ray::ObjectRef<T>& ref, int timeout_ms, Check check, Counts& counts) {
  try {
    std::shared_ptr<T> value = ray::Get(ref, timeout_ms);
    if (check(*value)) {
      ++counts.ok;
      std::printf("ok %ld\n", n);
    } else {
      ++counts.wrong;
      std::printf("wrong %ld\n", n);
    }
  } catch (const ray::internal::RayTimeoutException&) {
    ++counts.hang;
    std::printf("hang %ld\n", n);
  } catch (const ray::internal::RayWorkerException& e) {
    ++counts.error;
    std::printf("error %ld RayWorkerException: %s\n", n, OneLine(e.what()).c_str());
  } catch (const ray::internal::RayTaskException& e) {
    ++counts.error;
    std::printf("error %ld RayTaskException: %s\n", n, OneLine(e.what()).c_str());
  } catch (const ray::internal::RayException& e) {
    ++counts.error;
    std::printf("error %ld RayException: %s\n", n, OneLine(e.what()).c_str());
  }
  std::fflush(stdout);
}

}  // namespace

RAY_REMOTE(Add, Blob);

int main(int argc, char** argv) {
  // First Init: in the workers the raylet starts (this executable again,
  // without our arguments) it runs the worker and never returns.
  try {
    ray::RayConfig config;
    ray::Init(config, argc, argv);
  } catch (const std::exception& e) {
    std::printf("init failed: %s\n", OneLine(e.what()).c_str());
    return 1;
  }
  if (argc < 2) {
    std::fprintf(stderr, "usage: chaos_driver STOP_FILE [GET_TIMEOUT_MS] [MAX_TASKS]\n");
    ray::Shutdown();
    return 2;
  }
  const std::string stop_file = argv[1];
  const int timeout_ms = argc > 2 ? std::atoi(argv[2]) : 60000;
  const long max_tasks = argc > 3 ? std::atol(argv[3]) : -1;
  Counts counts;
  long n = 0;
  while (::access(stop_file.c_str(), F_OK) != 0 && (max_tasks < 0 || n < max_tasks) &&
         counts.hang == 0) {
    std::vector<ray::ObjectRef<int>> small;
    for (int i = 0; i < kSmallPerRound; ++i) {
      small.push_back(ray::Task(Add).Remote(static_cast<int>(n + i)));
    }
    ray::ObjectRef<std::string> blob = ray::Task(Blob).Remote(static_cast<int>(n));
    const long first = n;
    auto bound = [&] { return counts.hang == 0 ? timeout_ms : 1000; };
    for (int i = 0; i < kSmallPerRound; ++i, ++n) {
      const int expected = static_cast<int>(n) + 1;
      Await(n, small[i], bound(), [&](int v) { return v == expected; }, counts);
    }
    const char fill = static_cast<char>('a' + first % 26);
    Await(
        n++, blob, bound(),
        [&](const std::string& s) {
          return s.size() == kBlobBytes && s.front() == fill && s.back() == fill;
        },
        counts);
  }
  std::printf("summary ok=%ld error=%ld wrong=%ld hang=%ld\n", counts.ok, counts.error,
              counts.wrong, counts.hang);
  std::fflush(stdout);
  ray::Shutdown();
  return 0;
}
