// Nothing another local user can plant is trusted (docs/security.md, "Files
// and local users"). The attacker is a real second user: as root the test
// creates the system user lumen-sec-test and plants files or starts
// processes as that user (setpriv); not as root it skips, saying why.
// Shown here, each through the real CLI, daemons or a driver:
//   - a planted lumen_current_cluster (in a directory another user owns, owned
//     by another user, or writable by others) is refused with a one-line error
//     by `lumen status` and by a RAY_ADDRESS=auto driver, and nothing connects
//     to the address it names (so no token is sent);
//   - a planted token file (foreign owner, readable by others) is refused;
//   - a symlink at lumen_current_cluster is not followed;
//   - a pid file naming another user's "lumen-gcs" does not get it signalled;
//   - `lumen stop` stops the user's clusters under two different temp dirs;
//   - neither the Redis password nor the token is on any daemon's command line;
//   - the session directory is 0700 and every file in it 0600.
#include <fcntl.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "tests/harness.h"

namespace lumen::testing {
namespace {

namespace fs = std::filesystem;

constexpr char kOtherUser[] = "lumen-sec-test";
constexpr char kSmallStore[] = "33554432";

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct OtherUser {
  uid_t uid = 0;
  gid_t gid = 0;
  std::string Uid() const { return std::to_string(uid); }
  // `argv` run as this user, keeping the environment.
  std::vector<std::string> As(std::vector<std::string> argv) const {
    std::vector<std::string> wrapped = {"/usr/bin/setpriv", "--reuid=" + Uid(),
                                        "--regid=" + std::to_string(gid), "--clear-groups", "--"};
    wrapped.insert(wrapped.end(), argv.begin(), argv.end());
    return wrapped;
  }
  std::vector<std::string> Shell(const std::string& script) const {
    return As({"/bin/sh", "-c", script});
  }
};

// The second user, created when missing; nullopt (with the reason in
// `why`) when the test cannot act as another user.
std::optional<OtherUser> GetOtherUser(std::string& why) {
  if (::geteuid() != 0) {
    why = "not running as root: cannot act as a second local user; skipping";
    return std::nullopt;
  }
  if (::access("/usr/bin/setpriv", X_OK) != 0) {
    why = "/usr/bin/setpriv (util-linux) is missing; skipping";
    return std::nullopt;
  }
  if (::getpwnam(kOtherUser) == nullptr) {
    std::string command = std::string("useradd --system --no-create-home ") + kOtherUser +
                          " >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0 && ::getpwnam(kOtherUser) == nullptr) {
      why = std::string("cannot create the user ") + kOtherUser + "; skipping";
      return std::nullopt;
    }
  }
  const passwd* pw = ::getpwnam(kOtherUser);
  if (pw == nullptr) {
    why = std::string("no user ") + kOtherUser + "; skipping";
    return std::nullopt;
  }
  return OtherUser{pw->pw_uid, pw->pw_gid};
}

// The second user, or nullopt after saying why the test is skipped.
std::optional<OtherUser> OtherUserOrSkip() {
  std::string why;
  std::optional<OtherUser> other = GetOtherUser(why);
  if (!other) WARN(why);
  return other;
}

// A sandbox the other user can reach: its root becomes traversable and
// <root>/shared is a sticky world-writable directory like /tmp.
std::string SharedDir(const Sandbox& sandbox) {
  ::chmod(sandbox.root().c_str(), 0711);
  const std::string shared = sandbox.root() + "/shared";
  fs::create_directories(shared);
  ::chmod(shared.c_str(), 01777);
  return shared;
}

void WriteText(const std::string& path, const std::string& text, mode_t mode) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), mode);
}

// A token for the sandbox's user in <home>/.lumen/token (0700 / 0600).
void WriteOwnToken(const Sandbox& sandbox) {
  const std::string dir = sandbox.home() + "/.lumen";
  fs::create_directories(dir);
  ::chmod(dir.c_str(), 0700);
  WriteText(dir + "/token", "sandbox-token-0123456789\n", 0600);
}

std::string DriverPath() { return Sandbox::BinDir() + "/fate_driver"; }

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) return 07777;
  return st.st_mode & 07777;
}

int LineCount(const std::string& text) {
  return static_cast<int>(std::count(text.begin(), text.end(), '\n'));
}

TEST_CASE("a planted lumen_current_cluster is refused by lumen status and drivers",
          "[integration][security]") {
  std::optional<OtherUser> other = OtherUserOrSkip();
  if (!other) return;
  Sandbox sandbox;
  const std::string shared = SharedDir(sandbox);
  WriteOwnToken(sandbox);
  LoopbackListener tripwire;

  struct Case {
    std::string name;
    std::string temp_dir;
    std::string refused_path;
    std::string reason;
  };
  std::vector<Case> cases;

  // 1. The shared default temp dir was created first by the other user.
  const std::string foreign_dir = shared + "/lumen";
  CommandResult plant = sandbox.Run(other->Shell("mkdir -m 0777 " + foreign_dir + " && echo " +
                                                 tripwire.address() + " > " + foreign_dir +
                                                 "/lumen_current_cluster"));
  REQUIRE(plant.exit_code == 0);
  cases.push_back({"directory of another user", foreign_dir, foreign_dir,
                   "owned by uid " + other->Uid() + ", not you (uid 0)"});

  // 2. Our own temp dir holds a file the other user owns.
  const std::string own_dir = sandbox.temp_dir();
  WriteText(own_dir + "/lumen_current_cluster", tripwire.address() + "\n", 0644);
  REQUIRE(::chown((own_dir + "/lumen_current_cluster").c_str(), other->uid, other->gid) == 0);
  cases.push_back({"file of another user", own_dir, own_dir + "/lumen_current_cluster",
                   "owned by uid " + other->Uid()});

  for (const Case& c : cases) {
    SECTION(c.name) {
      CommandResult status = sandbox.Lumen({"status"}, {{"LUMEN_TEMP_DIR", c.temp_dir}});
      INFO(status.Describe());
      CHECK(status.exit_code != 0);
      CHECK(Has(status.err, "refusing " + c.refused_path + ": " + c.reason));
      CHECK(LineCount(status.err) == 1);
      CommandResult driver = sandbox.Run({DriverPath(), "shutdown"},
                                         {{"LUMEN_TEMP_DIR", c.temp_dir}, {"RAY_ADDRESS", "auto"}},
                                         60000);
      INFO(driver.Describe());
      CHECK(driver.exit_code != 0);
      CHECK(Has(driver.out + driver.err, "refusing " + c.refused_path + ": " + c.reason));
      CHECK(tripwire.Untouched());
    }
  }

  SECTION("file writable by others") {
    const std::string file = own_dir + "/lumen_current_cluster";
    REQUIRE(::chown(file.c_str(), 0, 0) == 0);
    REQUIRE(::chmod(file.c_str(), 0666) == 0);
    CommandResult status = sandbox.Lumen({"status"});
    INFO(status.Describe());
    CHECK(status.exit_code != 0);
    CHECK(Has(status.err, "refusing " + file + ": writable by group or others"));
    CHECK(LineCount(status.err) == 1);
    CHECK(tripwire.Untouched());
  }
}

TEST_CASE("a planted token file is refused", "[integration][security]") {
  std::optional<OtherUser> other = OtherUserOrSkip();
  if (!other) return;
  Sandbox sandbox;
  LoopbackListener tripwire;
  WriteOwnToken(sandbox);
  const std::string dir = sandbox.home() + "/.lumen";
  const std::string token = dir + "/token";

  SECTION("owned by another user") {
    REQUIRE(::chown(token.c_str(), other->uid, other->gid) == 0);
    CommandResult status = sandbox.Lumen({"status", "--address", tripwire.address()});
    INFO(status.Describe());
    CHECK(status.exit_code != 0);
    CHECK(Has(status.err, "refusing " + token + ": owned by uid " + other->Uid()));
  }
  SECTION("its directory owned by another user") {
    REQUIRE(::chown(dir.c_str(), other->uid, other->gid) == 0);
    CommandResult status = sandbox.Lumen({"status", "--address", tripwire.address()});
    INFO(status.Describe());
    CHECK(status.exit_code != 0);
    CHECK(Has(status.err, "refusing " + dir + ": owned by uid " + other->Uid()));
  }
  SECTION("readable by others") {
    REQUIRE(::chmod(token.c_str(), 0644) == 0);
    CommandResult status = sandbox.Lumen({"status", "--address", tripwire.address()});
    INFO(status.Describe());
    CHECK(status.exit_code != 0);
    CHECK(Has(status.err, "refusing " + token + ": readable by group or others"));
    CHECK(Has(status.err, "chmod 600 " + token));
  }
  SECTION("an explicit --token-file writable by others") {
    const std::string planted = sandbox.root() + "/planted_token";
    WriteText(planted, "attacker-token\n", 0666);
    CommandResult status =
        sandbox.Lumen({"status", "--address", tripwire.address(), "--token-file", planted});
    INFO(status.Describe());
    CHECK(status.exit_code != 0);
    CHECK(Has(status.err, "refusing " + planted + ": "));
  }
  CHECK(tripwire.Untouched());
}

TEST_CASE("a symlink planted at lumen_current_cluster is not followed", "[integration][security]") {
  std::optional<OtherUser> other = OtherUserOrSkip();
  if (!other) return;
  Sandbox sandbox;
  const std::string shared = SharedDir(sandbox);
  const std::string victim = sandbox.root() + "/victim";
  WriteText(victim, "precious\n", 0600);

  // In a temp dir the other user made: refused before anything is written.
  const std::string foreign_dir = shared + "/lumen";
  CommandResult plant = sandbox.Run(other->Shell("mkdir -m 0777 " + foreign_dir + " && ln -s " +
                                                 victim + " " + foreign_dir +
                                                 "/lumen_current_cluster"));
  REQUIRE(plant.exit_code == 0);
  CommandResult head = sandbox.Lumen({"start", "--head", "--port", "0", "--num-cpus", "1",
                                      "--object-store-memory", kSmallStore},
                                     {{"LUMEN_TEMP_DIR", foreign_dir}});
  INFO(head.Describe());
  CHECK(head.exit_code != 0);
  CHECK(Has(head.err, "refusing " + foreign_dir + ": owned by uid " + other->Uid()));
  CHECK(ReadFile(victim) == "precious\n");

  // In our own temp dir: the head starts and replaces the link by a file.
  const std::string link = sandbox.temp_dir() + "/lumen_current_cluster";
  fs::create_symlink(victim, link);
  CommandResult own = sandbox.Lumen({"start", "--head", "--port", "0", "--num-cpus", "1",
                                     "--object-store-memory", kSmallStore});
  INFO(own.Describe());
  CHECK(own.exit_code == 0);
  CHECK(ReadFile(victim) == "precious\n");
  CHECK_FALSE(fs::is_symlink(link));
  CHECK(ModeOf(link) == 0600);
}

TEST_CASE("lumen stop does not signal another user's process named in a pid file",
          "[integration][security]") {
  std::optional<OtherUser> other = OtherUserOrSkip();
  if (!other) return;
  Sandbox sandbox;
  const std::string shared = SharedDir(sandbox);
  // The other user's fake daemons: copies of bash named like Lumen's, side by
  // side as in an installation, and a temp dir with a pids file naming one.
  const std::string bin = shared + "/bin";
  const std::string temp = shared + "/lumen";
  CommandResult setup = sandbox.Run(other->Shell(
      "mkdir " + bin + " " + temp + " " + temp + "/session_1 && for d in gcs raylet plasma worker; "
      "do cp /bin/bash " + bin + "/lumen-$d; done"));
  REQUIRE(setup.exit_code == 0);
  pid_t fake = sandbox.Spawn("fake-gcs", other->As({bin + "/lumen-gcs", "-c", "sleep 600; :",
                                                     temp + "/session_1/gcs_port"}));
  REQUIRE(fake > 0);
  REQUIRE(WaitUntil([&] { return !CommandLineOf(fake).empty() &&
                                 CommandLineOf(fake)[0] == bin + "/lumen-gcs"; },
                    10000));
  CommandResult plant = sandbox.Run(other->Shell("echo 'gcs " + std::to_string(fake) + "' > " +
                                                 temp + "/session_1/pids"));
  REQUIRE(plant.exit_code == 0);
  // Also a pid file in our own temp dir naming it (a stale or reused pid).
  fs::create_directories(sandbox.temp_dir() + "/session_2");
  WriteText(sandbox.temp_dir() + "/session_2/pids", "gcs " + std::to_string(fake) + "\n", 0600);

  for (const std::string& dir : {temp, sandbox.temp_dir()}) {
    CommandResult stop = sandbox.Lumen({"stop", "--force", "--temp-dir", dir});
    INFO(stop.Describe());
    CHECK(stop.exit_code == 0);
    CHECK(IsRunning(fake));
  }
}

TEST_CASE("lumen stop stops the user's clusters under two different temp dirs",
          "[integration][security]") {
  std::optional<OtherUser> other = OtherUserOrSkip();
  if (!other) return;
  // Run as the second user, so that `lumen stop` (every Lumen process of the
  // user) cannot touch anything else running on this machine.
  Sandbox sandbox;
  const std::string shared = SharedDir(sandbox);
  const std::string home = shared + "/home";
  REQUIRE(sandbox.Run(other->Shell("mkdir -m 0700 " + home)).exit_code == 0);
  const std::map<std::string, std::string> env = {{"HOME", home},
                                                  {"LUMEN_TEMP_DIR", shared + "/default"}};
  std::vector<std::string> sessions;
  for (const std::string& name : {"a", "b"}) {
    CommandResult head = sandbox.Run(
        other->As({Sandbox::BinDir() + "/lumen", "start", "--head", "--port", "0", "--num-cpus",
                   "1", "--object-store-memory", kSmallStore, "--temp-dir", shared + "/" + name}),
        env);
    INFO(head.Describe());
    REQUIRE(head.exit_code == 0);
    sessions.push_back(Sandbox::SessionDirFromOutput(head.out));
  }
  std::vector<pid_t> daemons;
  for (const auto& session : sessions) {
    for (const auto& [name, pid] : sandbox.SessionPids(session)) daemons.push_back(pid);
  }
  REQUIRE(daemons.size() == 8);  // gcs, plasma, raylet, dashboard of each head.
  for (pid_t pid : daemons) CHECK(IsRunning(pid));

  CommandResult stop = sandbox.Run(other->As({Sandbox::BinDir() + "/lumen", "stop"}), env);
  INFO(stop.Describe());
  CHECK(stop.exit_code == 0);
  CHECK(Has(stop.out, "Stopped "));
  CHECK(WaitUntil(
      [&] {
        for (pid_t pid : daemons) {
          if (IsRunning(pid)) return false;
        }
        return true;
      },
      20000));
}

TEST_CASE("no secret on a daemon's command line; session files are private",
          "[integration][security]") {
  if (FindRedisServer().empty()) {
    WARN("redis-server is not installed (scripts/install_deps.sh installs it); skipping");
    return;
  }
  Sandbox sandbox;
  const std::string password = "redis-pw-5d1b7c";
  const int redis_port = Sandbox::FreePort();
  pid_t redis_pid = sandbox.SpawnRedis(redis_port, {"--requirepass", password});
  REQUIRE(redis_pid > 0);
  CommandResult head = sandbox.Lumen({"start", "--head", "--port", "0", "--num-cpus", "1",
                                      "--object-store-memory", kSmallStore, "--redis-address",
                                      "127.0.0.1:" + std::to_string(redis_port),
                                      "--redis-password", password});
  INFO(head.Describe());
  REQUIRE(head.exit_code == 0);
  const std::string session = Sandbox::SessionDirFromOutput(head.out);
  CHECK(sandbox.Lumen({"status"}).exit_code == 0);
  // A driver joins through lumen_current_cluster and runs tasks: worker logs.
  CommandResult driver = sandbox.Run({DriverPath(), "shutdown"}, {{"RAY_ADDRESS", "auto"}}, 120000);
  INFO(driver.Describe());
  CHECK(driver.exit_code == 0);

  std::string token = ReadFile(sandbox.home() + "/.lumen/token");
  token = token.substr(0, token.find('\n'));
  REQUIRE(!token.empty());
  auto pids = sandbox.SessionPids(session);
  REQUIRE(pids.size() == 4);  // gcs, plasma, raylet, dashboard.
  for (const auto& [name, pid] : pids) {
    std::string cmdline;
    for (const auto& arg : CommandLineOf(pid)) cmdline += arg + " ";
    INFO(name << ": " << cmdline);
    CHECK_FALSE(cmdline.empty());
    CHECK_FALSE(Has(cmdline, password));
    CHECK_FALSE(Has(cmdline, token));
  }

  CHECK(ModeOf(session) == 0700);
  CHECK(ModeOf(sandbox.temp_dir() + "/lumen_current_cluster") == 0600);
  int files = 0;
  int worker_logs = 0;
  for (const auto& entry : fs::recursive_directory_iterator(session)) {
    const std::string path = entry.path().string();
    INFO(path);
    if (entry.is_symlink()) continue;
    if (entry.is_directory()) {
      CHECK(ModeOf(path) == 0700);
    } else if (entry.is_regular_file()) {
      ++files;
      if (Has(path, "/logs/worker-")) ++worker_logs;
      CHECK(ModeOf(path) == 0600);
    }
  }
  CHECK(files >= 6);  // 3 daemon logs, pids, 2 port files.
  CHECK(worker_logs >= 1);
}

}  // namespace
}  // namespace lumen::testing
