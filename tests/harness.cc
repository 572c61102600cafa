#include "tests/harness.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace lumen::testing {
namespace {

constexpr char kUnset[] = "\x01unset";

using Clock = std::chrono::steady_clock;

std::string ReadRaw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

std::vector<std::string> SplitNul(const std::string& raw) {
  std::vector<std::string> parts;
  std::string current;
  for (char c : raw) {
    if (c == '\0') {
      parts.push_back(current);
      current.clear();
    } else {
      current += c;
    }
  }
  if (!current.empty()) parts.push_back(current);
  return parts;
}

std::vector<pid_t> AllPids() {
  std::vector<pid_t> pids;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return pids;
  while (dirent* entry = ::readdir(proc)) {
    char* end = nullptr;
    long pid = std::strtol(entry->d_name, &end, 10);
    if (end != entry->d_name && *end == '\0' && pid > 1) pids.push_back(static_cast<pid_t>(pid));
  }
  ::closedir(proc);
  return pids;
}

// Kills what earlier test processes left behind when they died without
// running their destructors (SIGKILL, a ctest timeout): processes whose
// LUMEN_TEST_OWNER names a test process that no longer exists.
void ReapOrphansOfDeadTests() {
  const std::string owner_key = "LUMEN_TEST_OWNER=";
  const std::string root_key = "LUMEN_TEST_SANDBOX=";
  for (pid_t pid : AllPids()) {
    pid_t owner = 0;
    std::string root;
    for (const auto& entry : SplitNul(ReadRaw("/proc/" + std::to_string(pid) + "/environ"))) {
      if (entry.rfind(owner_key, 0) == 0) owner = std::atoi(entry.c_str() + owner_key.size());
      if (entry.rfind(root_key, 0) == 0) root = entry.substr(root_key.size());
    }
    if (owner <= 1 || IsRunning(owner) || root.rfind("/tmp/lumen-it-", 0) != 0) continue;
    ::kill(-pid, SIGKILL);
    ::kill(pid, SIGKILL);
    std::error_code ec;
    std::filesystem::remove_all(root, ec);
  }
}

}  // namespace

std::string CommandResult::Describe() const {
  return "exit code " + std::to_string(exit_code) + "\n--- stdout ---\n" + out +
         "--- stderr ---\n" + err;
}

bool WaitUntil(const std::function<bool()>& condition, int timeout_ms, int poll_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(poll_ms));
  }
  return condition();
}

bool IsRunning(pid_t pid) {
  if (pid <= 0 || ::kill(pid, 0) != 0) return false;
  const std::string stat = ReadRaw("/proc/" + std::to_string(pid) + "/stat");
  const size_t paren = stat.rfind(')');
  if (paren == std::string::npos || paren + 2 >= stat.size()) return false;
  return stat[paren + 2] != 'Z';
}

std::vector<std::string> CommandLineOf(pid_t pid) {
  return SplitNul(ReadRaw("/proc/" + std::to_string(pid) + "/cmdline"));
}

std::string ReadFile(const std::string& path) { return ReadRaw(path); }

std::vector<std::string> EnvironOf(pid_t pid) {
  return SplitNul(ReadRaw("/proc/" + std::to_string(pid) + "/environ"));
}

std::string FindRedisServer() {
  for (const char* path : {"/usr/bin/redis-server", "/usr/local/bin/redis-server"}) {
    if (::access(path, X_OK) == 0) return path;
  }
  return "";
}

bool AcceptsConnections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

LoopbackListener::LoopbackListener() {
  // Non-blocking, so Untouched() never waits for a connection.
  fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      ::listen(fd_, 16) == 0 &&
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port_ = ntohs(addr.sin_port);
  }
}

LoopbackListener::~LoopbackListener() { ::close(fd_); }

bool LoopbackListener::Untouched() const {
  int conn = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
  if (conn >= 0) {
    ::close(conn);
    return false;
  }
  return errno == EAGAIN || errno == EWOULDBLOCK;
}

Sandbox::Sandbox() {
  ReapOrphansOfDeadTests();
  std::string pattern = "/tmp/lumen-it-XXXXXX";
  char* made = ::mkdtemp(pattern.data());
  if (made == nullptr) std::abort();
  root_ = made;
  home_ = root_ + "/home";
  temp_dir_ = root_ + "/lumen";
  std::filesystem::create_directories(home_);
  std::filesystem::create_directories(temp_dir_);
}

Sandbox::~Sandbox() {
  Lumen({"stop", "--force"}, {}, 30000);
  KillEverything();
  std::error_code ec;
  if (std::getenv("LUMEN_KEEP_SANDBOX") == nullptr) std::filesystem::remove_all(root_, ec);
}

void Sandbox::KillEverything() {
  for (int round = 0; round < 50; ++round) {
    std::vector<pid_t> marked = MarkedProcesses();
    for (pid_t pid : spawned_) {
      if (IsRunning(pid)) marked.push_back(pid);
    }
    if (marked.empty()) break;
    for (pid_t pid : marked) {
      ::kill(-pid, SIGKILL);
      ::kill(pid, SIGKILL);
    }
    for (pid_t pid : spawned_) ::waitpid(pid, nullptr, WNOHANG);
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

std::string Sandbox::BinDir() {
  if (const char* dir = std::getenv("LUMEN_BIN_DIR"); dir && *dir) return dir;
  return LUMEN_TEST_BIN_DIR;
}

namespace {

// Whether a TCP listener could bind `port` on every address now.
bool CanBind(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_ANY);
  addr.sin_port = htons(static_cast<uint16_t>(port));
  const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  ::close(fd);
  return ok;
}

}  // namespace

// A port the kernel asked for port 0 hands out is an ephemeral one, which
// any process's next outgoing connection may take before the test's daemon
// binds it (seen under parallel ctest: "port 60065 ... is already in use").
// So: a port below the ephemeral range (/proc/sys/net/ipv4/ip_local_port_range
// starts at 32768 here), claimed with a lock file this process holds until
// it exits, so that two tests running at once never pick the same one.
int Sandbox::FreePort() {
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  const std::string dir = "/tmp/lumen-test-ports";
  if (::mkdir(dir.c_str(), 0777) == 0) ::chmod(dir.c_str(), 01777);  // Shared, like /tmp.
  std::random_device seed;
  std::mt19937 pick(seed());
  std::uniform_int_distribution<int> range(20000, 32000);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const int port = range(pick);
    const std::string path = dir + "/" + std::to_string(port);
    int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd < 0) {  // Cannot claim (another user's directory): free is all we know.
      if (CanBind(port)) return port;
      continue;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0 || !CanBind(port)) {
      ::close(fd);
      continue;
    }
    return port;  // The descriptor stays open: the claim lasts while we run.
  }
  return -1;
}

pid_t Sandbox::StartChild(const std::vector<std::string>& argv,
                          const std::map<std::string, std::string>& env,
                          const std::string& out_file, const std::string& err_file) {
  std::map<std::string, std::string> merged = {
      {"HOME", home_}, {"LUMEN_TEMP_DIR", temp_dir_}, {"LUMEN_TEST_SANDBOX", root_},
      {"LUMEN_TEST_OWNER", std::to_string(::getpid())},
      {"LUMEN_TOKEN", kUnset}, {"LUMEN_TOKEN_FILE", kUnset}, {"RAY_ADDRESS", kUnset}};
  for (const auto& [k, v] : env) merged[k] = v;
  std::vector<std::string> env_strings;
  for (char** e = environ; *e; ++e) {
    std::string kv(*e);
    if (!merged.count(kv.substr(0, kv.find('=')))) env_strings.push_back(kv);
  }
  for (const auto& [k, v] : merged) {
    if (v != kUnset) env_strings.push_back(k + "=" + v);
  }
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  int out_fd = ::open(out_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  int err_fd = ::open(err_file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::setpgid(0, 0);
    ::dup2(out_fd, 1);
    ::dup2(err_fd, 2);
    int devnull = ::open("/dev/null", O_RDONLY);
    ::dup2(devnull, 0);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  if (pid > 0) {
    ::setpgid(pid, pid);
    spawned_.push_back(pid);
  }
  ::close(out_fd);
  ::close(err_fd);
  return pid;
}

std::optional<int> Sandbox::WaitForChild(pid_t pid, int timeout_ms) {
  std::optional<int> status = WaitForChildStatus(pid, timeout_ms);
  if (!status) return std::nullopt;
  return *status >= 0 && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

std::optional<int> Sandbox::WaitForChildStatus(pid_t pid, int timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  while (true) {
    int status = 0;
    pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return status;
    if (done < 0) return -1;
    if (Clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

CommandResult Sandbox::Run(const std::vector<std::string>& argv,
                           const std::map<std::string, std::string>& env, int timeout_ms) {
  const std::string base = root_ + "/cmd" + std::to_string(next_output_++);
  CommandResult result;
  pid_t pid = StartChild(argv, env, base + ".out", base + ".err");
  if (pid > 0) {
    std::optional<int> code = WaitForChild(pid, timeout_ms);
    if (!code) {
      ::kill(-pid, SIGKILL);
      WaitForChild(pid, 5000);
    }
    result.exit_code = code.value_or(-1);
  }
  result.out = ReadRaw(base + ".out");
  result.err = ReadRaw(base + ".err");
  return result;
}

CommandResult Sandbox::Lumen(const std::vector<std::string>& args,
                             const std::map<std::string, std::string>& env, int timeout_ms) {
  std::vector<std::string> argv = {BinDir() + "/lumen"};
  argv.insert(argv.end(), args.begin(), args.end());
  // A bare `lumen stop` stops every Lumen process of the user, those of
  // other tests running at the same time included: keep it to this sandbox.
  if (!args.empty() && args[0] == "stop" &&
      std::find(args.begin(), args.end(), "--temp-dir") == args.end()) {
    argv.insert(argv.end(), {"--temp-dir", temp_dir_});
  }
  return Run(argv, env, timeout_ms);
}

pid_t Sandbox::Spawn(const std::string& name, const std::vector<std::string>& argv,
                     const std::map<std::string, std::string>& env) {
  const std::string log = root_ + "/" + name + ".out";
  return StartChild(argv, env, log, log);
}

pid_t Sandbox::SpawnRedis(int port, const std::vector<std::string>& extra_args) {
  std::vector<std::string> argv = {FindRedisServer(), "--port", std::to_string(port), "--bind",
                                   "127.0.0.1", "--save", "", "--appendonly", "no"};
  argv.insert(argv.end(), extra_args.begin(), extra_args.end());
  const pid_t pid = Spawn("redis", argv);
  if (pid <= 0 || !WaitUntil([&] { return AcceptsConnections(port); }, 20000)) return -1;
  return pid;
}

std::vector<pid_t> Sandbox::MarkedProcesses() const {
  std::vector<pid_t> marked;
  const std::string marker = Marker();
  for (pid_t pid : AllPids()) {
    if (!IsRunning(pid)) continue;
    for (const auto& entry : SplitNul(ReadRaw("/proc/" + std::to_string(pid) + "/environ"))) {
      if (entry == marker) {
        marked.push_back(pid);
        break;
      }
    }
  }
  return marked;
}

std::vector<pid_t> Sandbox::LumenDaemons() const {
  std::vector<pid_t> daemons;
  for (pid_t pid : MarkedProcesses()) {
    std::vector<std::string> argv = CommandLineOf(pid);
    if (argv.empty()) continue;
    std::string program = std::filesystem::path(argv[0]).filename().string();
    if (program.rfind("lumen-", 0) == 0) daemons.push_back(pid);
  }
  return daemons;
}

std::map<std::string, pid_t> Sandbox::SessionPids(const std::string& session_dir) const {
  std::map<std::string, pid_t> pids;
  std::istringstream in(ReadRaw(session_dir + "/pids"));
  std::string name;
  pid_t pid = 0;
  while (in >> name >> pid) pids[name] = pid;
  return pids;
}

namespace {

// The rest of the line after `key` in `out`, without leading spaces.
std::string ValueAfter(const std::string& out, const std::string& key) {
  const size_t at = out.find(key);
  if (at == std::string::npos) return "";
  const size_t start = out.find_first_not_of(' ', at + key.size());
  if (start == std::string::npos) return "";
  return out.substr(start, out.find('\n', start) - start);
}

}  // namespace

std::string Sandbox::SessionDirFromOutput(const std::string& out) { return ValueAfter(out, "Session dir:"); }

std::string Sandbox::GcsAddressFromOutput(const std::string& out) { return ValueAfter(out, "GCS address:"); }

// The TCP ports process `pid` listens on (/proc/net/tcp and tcp6 rows in
// state LISTEN whose socket inode is one of the process's descriptors).
std::set<int> ListeningPorts(pid_t pid) {
  std::set<std::string> inodes;
  std::string fd_dir = "/proc/" + std::to_string(pid) + "/fd";
  if (DIR* dir = ::opendir(fd_dir.c_str())) {
    while (dirent* entry = ::readdir(dir)) {
      char target[64] = {};
      std::string link = fd_dir + "/" + entry->d_name;
      if (::readlink(link.c_str(), target, sizeof(target) - 1) > 0 &&
          std::strncmp(target, "socket:[", 8) == 0) {
        std::string inode(target + 8);
        inodes.insert(inode.substr(0, inode.size() - 1));
      }
    }
    ::closedir(dir);
  }
  std::set<int> ports;
  for (const char* table : {"tcp", "tcp6"}) {  // gRPC listens on a v4-mapped v6 socket.
    std::ifstream tcp("/proc/" + std::to_string(pid) + "/net/" + table);
    std::string line;
    std::getline(tcp, line);  // Header.
    while (std::getline(tcp, line)) {
      std::istringstream row(line);
      std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
      row >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
      if (state == "0A" && inodes.count(inode)) {
        ports.insert(std::stoi(local.substr(local.find(':') + 1), nullptr, 16));
      }
    }
  }
  return ports;
}

}  // namespace lumen::testing
