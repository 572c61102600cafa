#include "deploy/local_processes.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "common/process.h"

namespace lumen::deploy {
namespace {

std::string BaseName(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Alive and not a zombie. Reaps our own children as a side effect.
bool Running(pid_t pid) {
  if (!ProcessAlive(pid)) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const size_t paren = line.rfind(')');
  return paren == std::string::npos || paren + 2 >= line.size() || line[paren + 2] != 'Z';
}

}  // namespace

std::vector<PidEntry> ParsePidsFile(const std::string& contents) {
  std::vector<PidEntry> entries;
  std::istringstream in(contents);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    PidEntry entry;
    std::string pid_text;
    if (!(fields >> entry.name >> pid_text)) continue;
    if (!absl::SimpleAtoi(pid_text, &entry.pid) || entry.pid <= 1) continue;
    entries.push_back(entry);
  }
  return entries;
}

absl::Status AppendPidsFile(const std::string& path, const std::string& name, pid_t pid) {
  std::ofstream out(path, std::ios::app);
  if (!out) return absl::PermissionDeniedError("cannot write " + path);
  out << name << " " << pid << "\n";
  out.flush();
  if (!out) return absl::InternalError("cannot write " + path);
  return absl::OkStatus();
}

std::vector<std::string> SplitCmdline(const std::string& raw) {
  std::vector<std::string> argv;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    argv.push_back(raw.substr(start, end - start));
    start = end + 1;
  }
  return argv;
}

bool IsLumenDaemon(const std::vector<std::string>& argv, const std::string& expected_name) {
  if (argv.empty()) return false;
  const std::string base = BaseName(argv[0]);
  if (!expected_name.empty()) return base == "lumen-" + expected_name;
  return base.rfind("lumen-", 0) == 0;
}

bool MentionsDirectory(const std::vector<std::string>& argv, const std::string& dir) {
  if (dir.empty()) return false;
  const std::string prefix = dir.back() == '/' ? dir : dir + "/";
  for (const auto& arg : argv) {
    if (arg.find(prefix) != std::string::npos) return true;
  }
  return false;
}

std::vector<std::string> ReadCmdline(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cmdline", std::ios::binary);
  std::stringstream raw;
  raw << in.rdbuf();
  return SplitCmdline(raw.str());
}

std::vector<pid_t> FindLumenProcessesMentioning(const std::string& dir) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid <= 1) continue;
    std::vector<std::string> argv = ReadCmdline(pid);
    if (IsLumenDaemon(argv, "") && MentionsDirectory(argv, dir)) found.push_back(pid);
  }
  ::closedir(proc);
  return found;
}

bool EnvironNamesSessionUnder(const std::string& raw_environ, const std::string& dir) {
  if (dir.empty()) return false;
  const std::string prefix = "LUMEN_SESSION_DIR=" + (dir.back() == '/' ? dir : dir + "/");
  for (const auto& entry : SplitCmdline(raw_environ)) {
    if (entry.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::vector<pid_t> FindWorkersOfSessionsUnder(const std::string& dir) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return found;
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid <= 1 || pid == ::getpid()) continue;
    std::ifstream in(std::string("/proc/") + entry->d_name + "/environ", std::ios::binary);
    std::stringstream raw;
    raw << in.rdbuf();
    if (EnvironNamesSessionUnder(raw.str(), dir)) found.push_back(pid);
  }
  ::closedir(proc);
  return found;
}

int StopProcesses(const std::vector<pid_t>& pids, bool force, int grace_ms) {
  std::vector<pid_t> alive;
  for (pid_t pid : pids) {
    if (Running(pid)) alive.push_back(pid);
  }
  for (pid_t pid : alive) KillProcessGroup(pid, force ? SIGKILL : SIGTERM);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(grace_ms);
  std::vector<pid_t> remaining = alive;
  while (!remaining.empty() && std::chrono::steady_clock::now() < deadline) {
    std::vector<pid_t> still;
    for (pid_t pid : remaining) {
      if (Running(pid)) still.push_back(pid);
    }
    remaining.swap(still);
    if (!remaining.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (pid_t pid : remaining) KillProcessGroup(pid, SIGKILL);
  for (pid_t pid : remaining) WaitForExit(pid, 2000);
  return static_cast<int>(alive.size());
}

}  // namespace lumen::deploy
