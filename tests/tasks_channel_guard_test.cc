// A real lumen-worker's listening ports against a stranger without the
// token: a 13-byte header announcing 500 MiB does not grow the worker, the
// connection is closed, and the refusal goes to the worker's log file but
// not to the driver's terminal (worker/task_channel.h, log_forwarder.h).
#include <ray/api.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tests/harness.h"
#include "tests/tasks_harness.h"

namespace fs = std::filesystem;

namespace {

// Far beyond any healthy wait: only a failing test reaches it.
constexpr int kGiveUpMs = 60000;

// "<pid> <session dir>" of the worker that runs it.
std::string WhereAmI() {
  const char* session = std::getenv("LUMEN_SESSION_DIR");
  return std::to_string(::getpid()) + " " + (session ? session : "");
}

// Prints `text` (forwarded to the driver after anything the worker wrote
// before it) and returns the worker's pid.
int PrintLine(std::string text) {
  std::printf("%s\n", text.c_str());
  std::fflush(stdout);
  return ::getpid();
}

}  // namespace

RAY_REMOTE(WhereAmI, PrintLine);

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

long RssKiB(pid_t pid) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

// The TCP ports `pid` listens on: its socket inodes matched against
// /proc/net/tcp rows in state 0A (LISTEN).
std::vector<int> ListeningPorts(pid_t pid) {
  std::set<std::string> inodes;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
    std::string target = fs::read_symlink(entry.path(), ec).string();
    if (target.rfind("socket:[", 0) == 0) inodes.insert(target.substr(8, target.size() - 9));
  }
  std::vector<int> ports;
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  std::getline(tcp, line);  // Column names.
  while (std::getline(tcp, line)) {
    std::istringstream row(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    row >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >> timeout >> inode;
    if (state == "0A" && inodes.count(inode)) ports.push_back(std::stoi(local.substr(local.find(':') + 1), nullptr, 16));
  }
  return ports;
}

// Connects to `port`, sends a hello header announcing 500 MiB and no token;
// true when the peer then closes the connection.
bool AnnounceHugeHelloAndSeeClose(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  ::inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  bool closed = false;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    char header[13] = {};
    uint32_t len = 500u << 20;
    std::memcpy(header, &len, 4);
    header[4] = 1;  // kHello
    pollfd p{fd, POLLIN, 0};
    char c;
    closed = ::send(fd, header, sizeof(header), MSG_NOSIGNAL) == sizeof(header) &&
             ::poll(&p, 1, kGiveUpMs) == 1 && ::recv(fd, &c, 1, 0) <= 0;
  }
  ::close(fd);
  return closed;
}

}  // namespace

TEST_CASE("a stranger announcing 500 MiB costs the worker nothing and never reaches the driver") {
  std::istringstream where(*ray::Get(ray::Task(WhereAmI).Remote()));
  pid_t worker = 0;
  std::string session;
  where >> worker >> session;
  REQUIRE(worker > 0);
  lumen::testing::RecordWorkerPid(worker);
  std::vector<int> ports = ListeningPorts(worker);
  INFO("worker pid " << worker << ", " << ports.size() << " listening ports");
  REQUIRE(!ports.empty());  // Its task channel (and its gRPC server, if on IPv4 TCP).

  long before = RssKiB(worker);
  size_t closed = 0;
  for (int port : ports) closed += AnnounceHugeHelloAndSeeClose(port);
  long grown_kib = RssKiB(worker) - before;
  INFO("worker RSS grew by " << grown_kib << " KiB");
  CHECK(closed >= 1);
  CHECK(grown_kib < 64 * 1024);

  // The refusal is in the worker's own log file, without the marker.
  std::string log_path;
  for (const auto& entry : fs::directory_iterator(session + "/logs")) {
    std::string name = entry.path().filename().string();
    if (name.rfind("worker-", 0) == 0 && name.ends_with("-" + std::to_string(worker) + ".out")) {
      log_path = entry.path().string();
    }
  }
  REQUIRE(!log_path.empty());
  const std::string refusal = "refused a connection from 127.0.0.1: its hello announced more than";
  CHECK(lumen::testing::WaitUntil([&] { return ReadFile(log_path).find(refusal) != std::string::npos; },
                                  kGiveUpMs));
  CHECK(ReadFile(log_path).find("lumen-local") == std::string::npos);

  // Lines reach the driver in the order the worker wrote them: once a line
  // the worker printed after the refusal has arrived, a forwarded refusal
  // would have arrived before it. The driver prints them on its stdout.
  std::string capture_path = session + "/driver-capture.out";
  std::fflush(stdout);
  int saved = ::dup(1);
  int capture = ::open(capture_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  ::dup2(capture, 1);
  bool same_worker = false;
  for (int i = 0; i < 20 && !same_worker; ++i) {
    same_worker = *ray::Get(ray::Task(PrintLine).Remote("after-the-refusal-" + std::to_string(i))) == worker;
  }
  std::string marker = "after-the-refusal-";
  bool arrived = lumen::testing::WaitUntil(
      [&] {
        std::fflush(stdout);
        return ReadFile(capture_path).find(marker) != std::string::npos;
      },
      kGiveUpMs);
  std::fflush(stdout);
  ::dup2(saved, 1);
  ::close(saved);
  ::close(capture);
  std::string driver_output = ReadFile(capture_path);
  INFO("driver output: " << driver_output);
  REQUIRE(same_worker);
  CHECK(arrived);
  CHECK(driver_output.find("refused") == std::string::npos);
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 1); }
