// integration_logs_test: the .out files of a real node rotate by size, and
// `lumen logs` lists, prints, finds by pid and follows them. The object
// store is made to write: each client that sends it a malformed frame
// costs one warning line in plasma.out ("closing client N: ...").
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/log_rotation.h"
#include "tests/harness.h"

namespace fs = std::filesystem;
using lumen::testing::CommandResult;
using lumen::testing::ReadFile;
using lumen::testing::Sandbox;
using lumen::testing::WaitUntil;

namespace {

constexpr int kMaxBytes = 3000;
constexpr int kBackups = 2;

// Connects to the store, reads its greeting, sends a frame it refuses and
// waits until it has closed the connection (after logging why).
void BadClient(const std::string& socket_path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, socket_path.c_str(), sizeof(address.sun_path) - 1);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0);
  timeval timeout{20, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  char buffer[4096];
  REQUIRE(::recv(fd, buffer, sizeof(buffer), 0) > 0);
  std::memset(buffer, 0xff, 64);
  REQUIRE(::send(fd, buffer, 64, MSG_NOSIGNAL) == 64);
  while (::recv(fd, buffer, sizeof(buffer), 0) > 0) {
  }
  ::close(fd);
}

// The client numbers of the "closing client N" lines of `text`, in order.
std::vector<int> ClientIds(const std::string& text) {
  std::vector<int> ids;
  static const std::regex kLine(R"(closing client (\d+):)");
  for (std::sregex_iterator it(text.begin(), text.end(), kLine), end; it != end; ++it) {
    ids.push_back(std::stoi((*it)[1]));
  }
  return ids;
}

// The sandbox's log writer processes (common/log_rotation.h).
std::vector<pid_t> LogWriters(const Sandbox& sandbox) {
  std::vector<pid_t> writers;
  for (pid_t pid : sandbox.MarkedProcesses()) {
    if (ReadFile("/proc/" + std::to_string(pid) + "/comm") == "lumen-logwriter\n") writers.push_back(pid);
  }
  return writers;
}

std::string LastLine(const std::string& text) {
  const size_t end = text.size() > 0 && text.back() == '\n' ? text.size() - 1 : text.size();
  const size_t start = text.rfind('\n', end - 1);
  return text.substr(start == std::string::npos ? 0 : start + 1, end - (start == std::string::npos ? 0 : start + 1));
}

}  // namespace

TEST_CASE("a daemon's log rotates by size; lumen logs lists, prints, finds and follows it") {
  Sandbox sandbox;
  const int port = Sandbox::FreePort();
  CommandResult start = sandbox.Lumen(
      {"start", "--head", "--port", std::to_string(port), "--num-cpus", "1", "--object-store-memory", "64000000",
       "--log-rotation-max-bytes", std::to_string(kMaxBytes), "--log-rotation-backup-count",
       std::to_string(kBackups)});
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  const std::string session = Sandbox::SessionDirFromOutput(start.out);
  const std::string logs = session + "/logs";
  const std::string plasma_socket = session + "/sockets/plasma.sock";
  const pid_t plasma = sandbox.SessionPids(session)["plasma"];
  REQUIRE(plasma > 0);

  // One log writer per daemon.
  CHECK(LogWriters(sandbox).size() == sandbox.SessionPids(session).size());
  // About 100 bytes a client: 200 of them fill several files.
  for (int i = 0; i < 200; ++i) BadClient(plasma_socket);
  REQUIRE(WaitUntil([&] { return fs::exists(logs + "/plasma.out.2"); }, 20000));

  CommandResult list = sandbox.Lumen({"logs"});
  INFO(list.Describe());
  CHECK(list.exit_code == 0);
  CHECK_THAT(list.out, Catch::StartsWith("Log files in " + logs));
  for (const char* name : {"gcs.out", "raylet.out", "plasma.out", "plasma.out.1", "plasma.out.2"}) {
    CHECK_THAT(list.out, Catch::Contains(std::string("  ") + name + "\n"));
  }
  CHECK_THAT(list.out, !Catch::Contains("plasma.out.3"));
  CommandResult tail = sandbox.Lumen({"logs", "plasma.out", "--tail", "1"});
  CHECK(tail.exit_code == 0);
  CHECK(std::count(tail.out.begin(), tail.out.end(), '\n') == 1);
  CHECK_THAT(tail.out, Catch::Contains("closing client"));
  CommandResult by_pid = sandbox.Lumen({"logs", "--pid", std::to_string(plasma), "--tail", "2"});
  CHECK(by_pid.exit_code == 0);
  CHECK(std::count(by_pid.out.begin(), by_pid.out.end(), '\n') == 2);
  // One-line errors.
  CommandResult unknown = sandbox.Lumen({"logs", "nosuch.out"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.err == "lumen logs: no log file nosuch.out in " + logs + " (`lumen logs` lists them)\n");
  CommandResult no_pid = sandbox.Lumen({"logs", "--pid", "999999999"});
  CHECK(no_pid.exit_code == 1);
  CHECK(no_pid.err == "lumen logs: no log file of pid 999999999 on this node (" + logs + ")\n");
  CommandResult outside = sandbox.Lumen({"logs", "../pids"});
  CHECK(outside.exit_code == 2);
  CHECK_THAT(outside.err, Catch::StartsWith("lumen logs: \"../pids\" is not a log file name"));
  CommandResult elsewhere = sandbox.Lumen({"logs", "--address", "127.0.0.1:1"});
  CHECK(elsewhere.exit_code == 1);
  CHECK_THAT(elsewhere.err, Catch::StartsWith("lumen logs: no node of the cluster at 127.0.0.1:1 runs on this machine"));

  // --follow goes on across rotations: what it prints reaches the last line
  // of a file created after it started.
  pid_t follow = sandbox.Spawn("follow", {Sandbox::BinDir() + "/lumen", "logs", "plasma.out", "--follow"});
  REQUIRE(follow > 0);
  const std::string followed = sandbox.root() + "/follow.out";
  REQUIRE(WaitUntil([&] { return !ReadFile(followed).empty(); }, 20000));
  const std::string first_current = ReadFile(logs + "/plasma.out");
  for (int i = 0; i < 100; ++i) BadClient(plasma_socket);
  std::string last;
  CHECK(WaitUntil(
      [&] {
        last = LastLine(ReadFile(logs + "/plasma.out"));
        return ReadFile(followed).find(last) != std::string::npos;
      },
      20000, 100));
  CHECK(first_current.find(last) == std::string::npos);  // A line of a later file.
  // The newest line of all is the current file's last one.
  const std::vector<int> last_id = ClientIds(last);
  REQUIRE(last_id.size() == 1);
  for (const char* name : {"plasma.out.1", "plasma.out.2"}) {
    for (int id : ClientIds(ReadFile(logs + "/" + name))) CHECK(id < last_id[0]);
  }
  ::kill(follow, SIGTERM);
  sandbox.WaitForChild(follow, 10000);

  // Stopped, the writer has written everything: at most K+1 files of at
  // most max bytes, whole lines, in order.
  CommandResult stop = sandbox.Lumen({"stop"});
  CHECK(stop.exit_code == 0);
  REQUIRE(lumen::WaitForLogWriter(logs + "/plasma.out", 20000));
  // The writers end with their daemons; `lumen stop` does not count them.
  CHECK(WaitUntil([&] { return LogWriters(sandbox).empty(); }, 20000));
  CHECK_THAT(stop.out, !Catch::Contains("Stopped 0 "));
  CHECK(stop.out.find("Stopped " + std::to_string(sandbox.SessionPids(session).size()) + " Lumen processes.") == 0);
  std::vector<int> ids;
  for (const std::string name : {"plasma.out.2", "plasma.out.1", "plasma.out"}) {
    const std::string text = ReadFile(logs + "/" + name);
    INFO(name);
    CHECK(fs::file_size(logs + "/" + name) <= static_cast<uintmax_t>(kMaxBytes));
    CHECK((text.empty() || text.back() == '\n'));
    for (int id : ClientIds(text)) ids.push_back(id);
  }
  CHECK(!fs::exists(logs + "/plasma.out.3"));
  REQUIRE(ids.size() > 10);
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(std::adjacent_find(ids.begin(), ids.end()) == ids.end());
  CHECK(ids.back() == last_id[0]);
}

TEST_CASE("a worker's log rotates too; lumen logs finds it by actor id, task id and pid") {
  Sandbox sandbox;
  const int port = Sandbox::FreePort();
  CommandResult start = sandbox.Lumen(
      {"start", "--head", "--port", std::to_string(port), "--num-cpus", "1", "--object-store-memory", "64000000",
       "--log-rotation-max-bytes", std::to_string(kMaxBytes), "--log-rotation-backup-count",
       std::to_string(kBackups)});
  INFO(start.Describe());
  REQUIRE(start.exit_code == 0);
  const std::string logs = Sandbox::SessionDirFromOutput(start.out) + "/logs";
  // 400 lines of 36 bytes: about 5 files' worth.
  CommandResult run = sandbox.Run({LUMEN_LOGS_DRIVER, "400"}, {{"RAY_ADDRESS", "127.0.0.1:" + std::to_string(port)}},
                                  120000);
  INFO(run.Describe());
  REQUIRE(run.exit_code == 0);
  std::smatch match;
  REQUIRE(std::regex_search(run.out, match, std::regex(R"(actor=([0-9a-f]+) pid=(\d+))")));
  const std::string actor = match[1];
  const std::string pid = match[2];
  const std::string last = "chatty line 399 of the actor's output\n";
  CommandResult by_actor;
  CHECK(WaitUntil(
      [&] {
        by_actor = sandbox.Lumen({"logs", "--actor-id", actor, "--tail", "1"});
        return by_actor.exit_code == 0 && by_actor.out == last;
      },
      20000, 200));
  INFO(by_actor.Describe());
  CommandResult by_pid = sandbox.Lumen({"logs", "--pid", pid, "--tail", "1"});
  CHECK(by_pid.exit_code == 0);
  CHECK(by_pid.out == last);
  // The worker's files: worker-<id>-<pid>.out and at most K rotated ones,
  // none over max bytes, the lines in order.
  std::string current;
  for (const auto& entry : fs::directory_iterator(logs)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("worker-", 0) == 0 && name.size() > 4 && name.substr(name.size() - 4) == ".out" &&
        name.find("-" + pid + ".out") != std::string::npos) {
      current = entry.path().string();
    }
  }
  REQUIRE(!current.empty());
  CHECK(fs::exists(current + ".1"));
  CHECK(fs::exists(current + "." + std::to_string(kBackups)));
  CHECK(!fs::exists(current + "." + std::to_string(kBackups + 1)));
  std::string all;
  for (int i = kBackups; i >= 0; --i) {
    const std::string name = i == 0 ? current : current + "." + std::to_string(i);
    CHECK(fs::file_size(name) <= static_cast<uintmax_t>(kMaxBytes));
    all += ReadFile(name);
  }
  std::vector<int> numbers;
  static const std::regex kChatty(R"(chatty line (\d+) )");
  for (std::sregex_iterator it(all.begin(), all.end(), kChatty), end; it != end; ++it) {
    numbers.push_back(std::stoi((*it)[1]));
  }
  REQUIRE(!numbers.empty());
  CHECK(numbers.back() == 399);
  for (size_t i = 1; i < numbers.size(); ++i) CHECK(numbers[i] == numbers[i - 1] + 1);
  // The task's worker, through the GCS's task events.
  REQUIRE(std::regex_search(run.out, match, std::regex(R"(task=([0-9a-f]+) task_pid=(\d+))")));
  const std::string task = match[1];
  CommandResult by_task;
  CHECK(WaitUntil(
      [&] {
        by_task = sandbox.Lumen({"logs", "--task-id", task, "--tail", "1"});
        return by_task.exit_code == 0;
      },
      20000, 200));
  INFO(by_task.Describe());
  CHECK(by_task.out == "shout line 2 of the task's output\n");
  CommandResult no_task = sandbox.Lumen({"logs", "--task-id", std::string(48, 'b')});
  CHECK(no_task.exit_code == 1);
  CHECK_THAT(no_task.err, Catch::StartsWith("lumen logs: no task bbbb"));
  // An unknown actor: one line.
  CommandResult unknown = sandbox.Lumen({"logs", "--actor-id", std::string(32, 'a')});
  CHECK(unknown.exit_code == 1);
  CHECK_THAT(unknown.err, Catch::StartsWith("lumen logs: no actor aaaa"));
  CHECK(std::count(unknown.err.begin(), unknown.err.end(), '\n') == 1);
  CommandResult bad = sandbox.Lumen({"logs", "--actor-id", "xyz"});
  CHECK(bad.exit_code == 2);
  CHECK(bad.err == "lumen logs: --actor-id xyz is not an actor id (32 hex digits)\n");
}
