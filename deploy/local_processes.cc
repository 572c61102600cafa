#include "deploy/local_processes.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "common/process.h"

namespace lumen::deploy {
namespace {

std::string ReadProcFile(pid_t pid, const char* name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/" + name, std::ios::binary);
  std::stringstream raw;
  raw << in.rdbuf();
  return raw.str();
}

// Every pid in /proc but init's.
std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = ::readdir(proc)) {
    pid_t pid = 0;
    if (absl::SimpleAtoi(entry->d_name, &pid) && pid > 1) pids.push_back(pid);
  }
  ::closedir(proc);
  return pids;
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
  int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return absl::PermissionDeniedError("cannot write " + path + ": " + std::strerror(errno));
  const std::string line = name + " " + std::to_string(pid) + "\n";
  const bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ::close(fd);
  if (!ok) return absl::InternalError("cannot write " + path);
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

bool IsLumenDaemonExe(const std::string& exe,
                      const std::function<bool(const std::string&)>& exists) {
  constexpr char kDeleted[] = " (deleted)";
  std::string path = exe;
  if (path.size() > sizeof(kDeleted) - 1 &&
      path.compare(path.size() - (sizeof(kDeleted) - 1), std::string::npos, kDeleted) == 0) {
    path.resize(path.size() - (sizeof(kDeleted) - 1));
  }
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return false;
  const std::string dir = path.substr(0, slash + 1);
  const std::string name = path.substr(slash + 1);
  if (name != "lumen-gcs" && name != "lumen-raylet" && name != "lumen-plasma" &&
      name != "lumen-worker" && name != "lumen-dashboard") {
    return false;
  }
  for (const char* sibling : {"lumen-gcs", "lumen-raylet", "lumen-plasma"}) {
    if (!exists(dir + sibling)) return false;
  }
  return true;
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
  return SplitCmdline(ReadProcFile(pid, "cmdline"));
}

std::optional<std::pair<uid_t, uid_t>> ParseStatusUids(const std::string& status) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("Uid:", 0) != 0) continue;
    std::istringstream fields(line.substr(4));
    long real = -1;
    long effective = -1;
    if (!(fields >> real >> effective) || real < 0 || effective < 0) return std::nullopt;
    return std::make_pair(static_cast<uid_t>(real), static_cast<uid_t>(effective));
  }
  return std::nullopt;
}

std::optional<ProcessIdentity> ReadProcessIdentity(pid_t pid) {
  std::optional<std::pair<uid_t, uid_t>> uids = ParseStatusUids(ReadProcFile(pid, "status"));
  if (!uids) return std::nullopt;
  ProcessIdentity identity;
  identity.real_uid = uids->first;
  identity.effective_uid = uids->second;
  char buf[4096];
  const std::string link = "/proc/" + std::to_string(pid) + "/exe";
  const ssize_t n = ::readlink(link.c_str(), buf, sizeof(buf) - 1);
  if (n > 0) identity.exe.assign(buf, n);
  identity.argv = ReadCmdline(pid);
  return identity;
}

namespace {

// A log writer (common/log_rotation.h) is a copy of the process that
// started a daemon or worker, not one itself: it ends with that process.
bool IsLogWriter(pid_t pid) { return ReadProcFile(pid, "comm") == "lumen-logwriter\n"; }

}  // namespace

std::vector<pid_t> FindOwnLumenDaemons(const std::string& dir) {
  const uid_t me = ::getuid();
  auto exists = [](const std::string& path) { return ::access(path.c_str(), X_OK) == 0; };
  std::vector<pid_t> found;
  for (pid_t pid : AllPids()) {
    std::optional<ProcessIdentity> identity = ReadProcessIdentity(pid);
    if (!identity || identity->real_uid != me || identity->effective_uid != me) continue;
    if (!IsLumenDaemonExe(identity->exe, exists) || IsLogWriter(pid)) continue;
    if (dir.empty() || MentionsDirectory(identity->argv, dir)) found.push_back(pid);
  }
  return found;
}

bool EnvironNamesSessionUnder(const std::string& raw_environ, const std::string& dir) {
  const std::string key = "LUMEN_SESSION_DIR=";
  const std::string prefix = dir.empty() ? key : key + (dir.back() == '/' ? dir : dir + "/");
  for (const auto& entry : SplitCmdline(raw_environ)) {
    if (entry.size() > key.size() && entry.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

std::vector<pid_t> FindWorkersOfSessionsUnder(const std::string& dir) {
  const uid_t me = ::getuid();
  std::vector<pid_t> found;
  for (pid_t pid : AllPids()) {
    if (pid == ::getpid()) continue;
    std::optional<std::pair<uid_t, uid_t>> uids = ParseStatusUids(ReadProcFile(pid, "status"));
    if (!uids || uids->first != me || uids->second != me) continue;
    if (EnvironNamesSessionUnder(ReadProcFile(pid, "environ"), dir) && !IsLogWriter(pid)) {
      found.push_back(pid);
    }
  }
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
