// bench/floors.h
//
// What the benchmarks share: the median-of-repetitions rate and the floors
// measured in the same run, against which a figure is read. A floor is the
// cost of the bare operation under the one benchmarked (a TCP round trip
// under a call, a process start under an actor's creation), so a figure
// says how much Lumen adds on top, on this machine, today.
// Threading: each function runs on the calling thread (TcpFloor starts and
// joins one echo thread). Failure: a floor that cannot be measured (socket,
// fork or exec failing) returns 0, which the callers print as such.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace lumen::bench {

using Clock = std::chrono::steady_clock;

inline double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// CPU seconds the whole machine has spent busy (every core, every process:
// the "cpu" line of /proc/stat less idle and iowait) since boot; < 0 when
// unreadable.
inline double MachineBusySeconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq) || cpu != "cpu") return -1;
  return static_cast<double>(user + nice + system + irq + softirq) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

inline double SecondsSince(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Runs `body` (which does `ops` operations) `reps` times; median ops/s.
template <typename F>
double Rate(int reps, int ops, F body) {
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) {
    auto start = Clock::now();
    body();
    rates.push_back(ops / SecondsSince(start));
  }
  return Median(rates);
}

// Round trips per second of one byte over a TCP loopback connection,
// echoed by another thread: the floor under any task or call round trip.
inline double TcpFloor() {
  int listener = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  ::listen(listener, 1);
  ::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);
  std::thread echo([listener] {
    int fd = ::accept(listener, nullptr, nullptr);
    char c;
    while (::recv(fd, &c, 1, 0) == 1 && ::send(fd, &c, 1, 0) == 1) {
    }
    ::close(fd);
  });
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  double rate = Rate(5, 5000, [fd] {
    char c = 'x';
    for (int i = 0; i < 5000; ++i) {
      if (::send(fd, &c, 1, 0) != 1 || ::recv(fd, &c, 1, 0) != 1) break;
    }
  });
  ::close(fd);
  echo.join();
  ::close(listener);
  return rate;
}

// Forks and execs `argv` (argv[0] a path) with stdout and stderr closed;
// the child's pid, or -1.
inline pid_t ForkExec(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(STDOUT_FILENO);
    ::close(STDERR_FILENO);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  return pid;
}

// Processes per second that fork+exec+exit `argv`, `at_once` started
// together and all awaited before the next ones: the floor under starting
// a worker process. Median of `reps` runs of `count` processes; 0 when a
// start fails or the program does not exit 0.
inline double ProcessStartFloor(const std::vector<std::string>& argv, int at_once, int count,
                                int reps = 3) {
  bool failed = false;
  double rate = Rate(reps, count, [&] {
    for (int started = 0; started < count; started += at_once) {
      std::vector<pid_t> pids;
      for (int i = 0; i < at_once; ++i) pids.push_back(ForkExec(argv));
      for (pid_t pid : pids) {
        int status = 0;
        if (pid < 0 || ::waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
            WEXITSTATUS(status) != 0) {
          failed = true;
        }
      }
    }
  });
  return failed ? 0 : rate;
}

}  // namespace lumen::bench
