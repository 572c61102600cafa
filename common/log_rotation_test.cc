#include "common/log_rotation.h"

#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "common/process.h"

namespace fs = std::filesystem;
using lumen::LogRotation;
using lumen::RotatingLogWriter;

namespace {

struct TempDir {
  TempDir() {
    char pattern[] = "/tmp/lumen-rotation-XXXXXX";
    path = ::mkdtemp(pattern);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

int OpenLog(const std::string& path) {
  return ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

std::string Line(int i) { return "line " + std::to_string(i) + " of the test output\n"; }

// Files of `dir` whose name starts with `base`.
std::vector<std::string> FilesOf(const std::string& dir, const std::string& base) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(base, 0) == 0) names.push_back(name);
  }
  std::sort(names.begin(), names.end());
  return names;
}

// Checks the rotated set of `path` (K backups): at most K + 1 files, each
// at most `max` bytes, and together (oldest first) the last lines of the
// output 0..last-1, whole lines, in order, the newest in `path` itself.
void CheckRotated(const std::string& path, int backups, int64_t max, int last) {
  std::string all;
  int files = 0;
  for (int i = backups + 1; i >= 0; --i) {
    const std::string name = i == 0 ? path : path + "." + std::to_string(i);
    if (!fs::exists(name)) continue;
    INFO(name);
    CHECK(i <= backups);
    CHECK(static_cast<int64_t>(fs::file_size(name)) <= max);
    CHECK((fs::file_size(name) == 0 || Read(name).back() == '\n'));
    // A rotated file was cut only when the next line did not fit.
    if (i > 0) CHECK(static_cast<int64_t>(fs::file_size(name)) > max - 40);
    all += Read(name);
    ++files;
  }
  CHECK(files <= backups + 1);
  CHECK_THAT(Read(path), Catch::EndsWith(Line(last - 1)));
  // Contiguous: find the first line kept, and every later one follows.
  std::istringstream in(all);
  std::string line;
  REQUIRE(std::getline(in, line));
  int first = std::stoi(line.substr(5));
  CHECK(line + "\n" == Line(first));
  int next = first + 1;
  while (std::getline(in, line)) CHECK(line + "\n" == Line(next++));
  CHECK(next == last);
}

}  // namespace

TEST_CASE("a rotating writer keeps at most K+1 files of at most max bytes, the newest lines last") {
  TempDir dir;
  const std::string path = dir.path + "/gcs.out";
  const int64_t max = 1000;
  RotatingLogWriter writer(OpenLog(path), LogRotation{max, 3});
  std::string pending;
  for (int i = 0; i < 500; ++i) {
    pending += Line(i);
    // Chunks of odd sizes, cutting lines anywhere, as a pipe delivers them.
    if (pending.size() > static_cast<size_t>(70 + i % 130)) {
      const size_t part = pending.size() - i % 7;
      writer.Write(pending.data(), part);
      pending.erase(0, part);
    }
  }
  writer.Write(pending.data(), pending.size());
  CHECK(FilesOf(dir.path, "gcs.out") ==
        std::vector<std::string>{"gcs.out", "gcs.out.1", "gcs.out.2", "gcs.out.3"});
  CheckRotated(path, 3, max, 500);
}

TEST_CASE("a log renamed after it was opened rotates under its new name") {
  TempDir dir;
  const std::string opened = dir.path + "/worker-ab.out";
  const std::string renamed = dir.path + "/worker-ab-123.out";
  RotatingLogWriter writer(OpenLog(opened), LogRotation{200, 2});
  fs::rename(opened, renamed);
  for (int i = 0; i < 100; ++i) writer.Write(Line(i).data(), Line(i).size());
  CHECK(FilesOf(dir.path, "worker-ab") ==
        std::vector<std::string>{"worker-ab-123.out", "worker-ab-123.out.1", "worker-ab-123.out.2"});
  CheckRotated(renamed, 2, 200, 100);
}

TEST_CASE("no backups: the file starts over; a line longer than a file is split") {
  TempDir dir;
  const std::string path = dir.path + "/raylet.out";
  RotatingLogWriter writer(OpenLog(path), LogRotation{100, 0});
  for (int i = 0; i < 50; ++i) writer.Write(Line(i).data(), Line(i).size());
  CHECK(FilesOf(dir.path, "raylet.out") == std::vector<std::string>{"raylet.out"});
  CHECK(fs::file_size(path) <= 100);
  CHECK_THAT(Read(path), Catch::EndsWith(Line(49)));
  const std::string long_line = std::string(250, 'x') + "\n";
  writer.Write(long_line.data(), long_line.size());
  CHECK(fs::file_size(path) <= 100);
  CHECK(Read(path) == std::string(50, 'x') + "\n");
}

TEST_CASE("rotation settings come from LUMEN_ROTATION_*, else RAY_ROTATION_*, else Ray's defaults") {
  ::unsetenv("LUMEN_ROTATION_MAX_BYTES");
  ::unsetenv("LUMEN_ROTATION_BACKUP_COUNT");
  ::unsetenv("RAY_ROTATION_MAX_BYTES");
  ::unsetenv("RAY_ROTATION_BACKUP_COUNT");
  auto rotation = lumen::LogRotationFromEnv();
  REQUIRE(rotation.ok());
  CHECK(rotation->max_bytes == 512 * 1024 * 1024);
  CHECK(rotation->backup_count == 5);
  ::setenv("RAY_ROTATION_MAX_BYTES", "4096", 1);
  ::setenv("RAY_ROTATION_BACKUP_COUNT", "2", 1);
  ::setenv("LUMEN_ROTATION_BACKUP_COUNT", "7", 1);
  rotation = lumen::LogRotationFromEnv();
  REQUIRE(rotation.ok());
  CHECK(rotation->max_bytes == 4096);
  CHECK(rotation->backup_count == 7);
  ::setenv("LUMEN_ROTATION_MAX_BYTES", "lots", 1);
  rotation = lumen::LogRotationFromEnv();
  REQUIRE(!rotation.ok());
  CHECK(rotation.status().message() ==
        "LUMEN_ROTATION_MAX_BYTES must be a number of bytes >= 0 (0: no rotation), got \"lots\"");
  ::unsetenv("LUMEN_ROTATION_MAX_BYTES");
  ::unsetenv("LUMEN_ROTATION_BACKUP_COUNT");
  ::unsetenv("RAY_ROTATION_MAX_BYTES");
  ::unsetenv("RAY_ROTATION_BACKUP_COUNT");
}

TEST_CASE("a process started with rotation: its output rotates, all of it is written, no fd leaks") {
  TempDir dir;
  const std::string path = dir.path + "/worker.out";
  // A descriptor of ours the child inherits (no O_CLOEXEC): the writer
  // process must not keep it open, or our read below would never see EOF.
  int leak[2];
  REQUIRE(::pipe(leak) == 0);
  lumen::ProcessOptions options;
  options.argv = {"/bin/sh", "-c",
                  "i=0; while [ $i -lt 2000 ]; do "
                  "echo \"line $i of the test output\"; i=$((i+1)); done; "
                  "echo \"line 2000 of the test output\" >&2; kill -KILL $$"};
  options.log_file = path;
  options.log_rotation = LogRotation{4000, 2};
  auto pid = lumen::StartProcess(options);
  REQUIRE(pid.ok());
  ::close(leak[1]);
  int status = 0;
  REQUIRE(::waitpid(*pid, &status, 0) == *pid);
  CHECK(WIFSIGNALED(status));  // Killed: the writer still writes its last line.
  // The shell's children held `leak` only until exit; EOF proves the writer
  // (still alive or not) does not hold it.
  pollfd readable{leak[0], POLLIN, 0};
  REQUIRE(::poll(&readable, 1, 20000) == 1);
  char byte;
  CHECK(::read(leak[0], &byte, 1) == 0);
  ::close(leak[0]);
  REQUIRE(lumen::WaitForLogWriter(path, 20000));
  CheckRotated(path, 2, 4000, 2001);
}
