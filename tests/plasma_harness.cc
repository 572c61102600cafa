#include "tests/plasma_harness.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "plasma/client.h"

namespace lumen::plasma::testing {

StoreProcessGroup::StoreProcessGroup(const std::string& binary, uint64_t memory,
                                     std::vector<std::string> extra_args) {
  char dir_template[] = "/tmp/lumen-plasma-test-XXXXXX";
  dir_ = ::mkdtemp(dir_template);  // Mode 0700.
  socket_path_ = dir_ + "/plasma.sock";
  std::vector<std::string> args = {binary, "--socket", socket_path_, "--object-store-memory",
                                   std::to_string(memory)};
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  store_pid_ = ::fork();
  if (store_pid_ == 0) {
    ::setpgid(0, 0);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    std::vector<char*> argv;
    for (auto& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    ::execv(binary.c_str(), argv.data());
    ::_exit(127);
  }
  ::setpgid(store_pid_, store_pid_);  // Also from here, against the race.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (std::chrono::steady_clock::now() < deadline) {
    if (PlasmaClient::Connect(socket_path_).ok()) {
      ready_ = true;
      break;
    }
    int status;
    if (::waitpid(store_pid_, &status, WNOHANG) == store_pid_) {
      store_pid_ = -1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

StoreProcessGroup::~StoreProcessGroup() {
  if (store_pid_ > 0) {
    ::kill(-store_pid_, SIGKILL);
    ::kill(store_pid_, SIGKILL);
    ::waitpid(store_pid_, nullptr, 0);
  }
  for (pid_t child : children_) {
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

pid_t StoreProcessGroup::Fork(const std::function<int()>& body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    if (store_pid_ > 0) ::setpgid(0, store_pid_);
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    ::_exit(body());
  }
  if (store_pid_ > 0) ::setpgid(pid, store_pid_);
  children_.push_back(pid);
  return pid;
}

int StoreProcessGroup::Wait(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) {
      std::erase(children_, pid);
      return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return -1;
}

uint64_t RssAnonBytes() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("RssAnon:", 0) == 0) return std::stoull(line.substr(8)) * 1024;  // kB
  }
  return 0;
}

}  // namespace lumen::plasma::testing
