// tests/harness.h
//
// Shared harness of the cross-process integration tests. A Sandbox gives one
// test a private world: a fresh directory (mkdtemp) holding its own HOME (so
// the cluster token file is private) and its own Lumen temp dir, and runs the
// real `lumen` CLI and other programs inside it. The root is made by mkdtemp
// (0700, the test user's), so the temp dir and token file pass Lumen's
// ownership checks (common/paths.h). Every process it starts
// carries the environment entry LUMEN_TEST_SANDBOX=<root>, and so do their
// descendants (daemons, workers); the destructor runs `lumen stop --force`
// for the private temp dir and then SIGKILLs the process group of every
// process still carrying the entry, so nothing outlives a test, pass or fail.
// They also carry LUMEN_TEST_OWNER=<test pid>: a new Sandbox kills leftovers
// of test processes that died without cleaning up (SIGKILL, ctest timeout).
//
// Threading: one Sandbox per test, used from the test's thread.
// Failure: helpers return what happened (exit codes, output) and leave the
// judging to the test; a command running past its timeout is killed and
// reported with exit code -1.
#pragma once

#include <sys/types.h>

#include <functional>
#include <map>
#include <set>
#include <optional>
#include <string>
#include <vector>

namespace lumen::testing {

struct CommandResult {
  int exit_code = -1;  // -1: killed after the timeout or killed by a signal.
  std::string out;
  std::string err;
  std::string Describe() const;  // For test failure messages.
};

// Polls `condition` every `poll_ms` until it holds or `timeout_ms` passes.
bool WaitUntil(const std::function<bool()>& condition, int timeout_ms, int poll_ms = 50);

class Sandbox {
 public:
  Sandbox();
  ~Sandbox();
  Sandbox(const Sandbox&) = delete;
  Sandbox& operator=(const Sandbox&) = delete;

  const std::string& root() const { return root_; }
  const std::string& home() const { return home_; }
  const std::string& temp_dir() const { return temp_dir_; }

  // The directory holding lumen, lumen-gcs, ... ($LUMEN_BIN_DIR or the build tree).
  static std::string BinDir();
  // A TCP port that was free a moment ago, outside the ephemeral range and
  // claimed for this process's life against other tests picking it.
  static int FreePort();

  // Runs `argv` to completion (at most `timeout_ms`). `env` is added to the
  // sandbox environment; a value of "\x01unset" removes the variable.
  CommandResult Run(const std::vector<std::string>& argv,
                    const std::map<std::string, std::string>& env = {}, int timeout_ms = 60000);
  // Runs the lumen CLI with `args` (no --temp-dir needed: LUMEN_TEMP_DIR is
  // set). `stop` without --temp-dir gets the sandbox's: a bare `lumen stop`
  // would stop every Lumen process of the user, other tests' included.
  CommandResult Lumen(const std::vector<std::string>& args,
                      const std::map<std::string, std::string>& env = {},
                      int timeout_ms = 60000);

  // Starts `argv` in the background in its own process group; output goes to
  // <root>/<name>.out. Returns the pid (-1 on failure).
  pid_t Spawn(const std::string& name, const std::vector<std::string>& argv,
              const std::map<std::string, std::string>& env = {});
  // Spawns FindRedisServer() on loopback `port`, without persistence and
  // with `extra_args` (e.g. --requirepass), and waits (up to 20 s) until it
  // accepts connections. Returns its pid, or -1 when it never did.
  pid_t SpawnRedis(int port, const std::vector<std::string>& extra_args = {});
  // Waits for a child started by Spawn; its exit code, or nullopt on timeout.
  std::optional<int> WaitForChild(pid_t pid, int timeout_ms);
  // The same, but the raw wait status (WIFSIGNALED, WTERMSIG ...).
  std::optional<int> WaitForChildStatus(pid_t pid, int timeout_ms);

  // Pids of running (non-zombie) processes carrying this sandbox's marker.
  std::vector<pid_t> MarkedProcesses() const;
  // Those of them whose program is a Lumen daemon (lumen-*).
  std::vector<pid_t> LumenDaemons() const;
  // "name pid" entries of <session_dir>/pids.
  std::map<std::string, pid_t> SessionPids(const std::string& session_dir) const;
  // The value printed after "Session dir:" by `lumen start`.
  static std::string SessionDirFromOutput(const std::string& out);
  // The value printed after "GCS address:" by `lumen start --head` (the
  // address the head advertises); "" when missing.
  static std::string GcsAddressFromOutput(const std::string& out);

  // The marker entry every sandboxed process carries.
  std::string Marker() const { return "LUMEN_TEST_SANDBOX=" + root_; }

 private:
  pid_t StartChild(const std::vector<std::string>& argv,
                   const std::map<std::string, std::string>& env, const std::string& out_file,
                   const std::string& err_file);
  void KillEverything();

  std::string root_;
  std::string home_;
  std::string temp_dir_;
  int next_output_ = 0;
  std::vector<pid_t> spawned_;
};

// True when something accepts TCP connections on loopback `port`.
bool AcceptsConnections(int port);

// A listening TCP socket on a free loopback port, for the object's lifetime;
// tells whether anything connected to it.
class LoopbackListener {
 public:
  LoopbackListener();
  ~LoopbackListener();
  LoopbackListener(const LoopbackListener&) = delete;
  LoopbackListener& operator=(const LoopbackListener&) = delete;
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  // True when no connection was made so far (the kernel queues completed
  // handshakes, so one from a client that has since exited still counts).
  bool Untouched() const;

 private:
  int fd_ = -1;
  int port_ = -1;
};

// True when `pid` exists and is not a zombie.
bool IsRunning(pid_t pid);

// The TCP ports process `pid` listens on (/proc/net/tcp and tcp6 rows in
// state LISTEN whose socket inode is one of the process's descriptors).
std::set<int> ListeningPorts(pid_t pid);
// The program name (argv[0]) and arguments of a running process.
std::vector<std::string> CommandLineOf(pid_t pid);
// Reads a whole file ("" when missing).
std::string ReadFile(const std::string& path);
// The environment ("KEY=value" entries) of a running process.
std::vector<std::string> EnvironOf(pid_t pid);
// The path of redis-server, or "" when it is not installed.
std::string FindRedisServer();

}  // namespace lumen::testing
