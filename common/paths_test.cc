// FindLumenBinary's search order, on fake install prefixes and build trees
// made of stub files in a temporary directory.
#include "common/paths.h"

#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

namespace fs = std::filesystem;
using lumen::BinaryPlaces;
using lumen::BinarySearchDirs;
using lumen::FindBinaryIn;

namespace {

// A temporary directory removed with the object.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "lumen_paths_test_XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  // Creates <root>/<dir>/<name> (mode 0755, or 0644 without `executable`);
  // returns <root>/<dir>.
  std::string Stub(const std::string& dir, const std::string& name, bool executable = true) {
    fs::create_directories(path_ + "/" + dir);
    std::string file = path_ + "/" + dir + "/" + name;
    std::ofstream(file) << "#!/bin/sh\n";
    ::chmod(file.c_str(), executable ? 0755 : 0644);
    return path_ + "/" + dir;
  }
  std::string Dir(const std::string& dir) {
    fs::create_directories(path_ + "/" + dir);
    return path_ + "/" + dir;
  }

 private:
  std::string path_;
};

std::string Find(const BinaryPlaces& places) {
  auto found = FindBinaryIn("lumen-gcs", BinarySearchDirs(places));
  return found.ok() ? *found : std::string(found.status().message());
}

}  // namespace

TEST_CASE("an installed Lumen finds its own daemons before a stale build tree") {
  TempDir root;
  BinaryPlaces places;
  places.executable_dir = root.Dir("home/user/app");  // A driver outside both trees.
  places.install_bin_dir = root.Stub("prefix/bin", "lumen-gcs");
  places.build_bin_dir = root.Stub("src/build/bin", "lumen-gcs");
  CHECK(Find(places) == places.install_bin_dir + "/lumen-gcs");

  places.library_bin_dir = root.Stub("relocated/bin", "lumen-gcs");  // Next to liblumen_ray.so.
  CHECK(Find(places) == places.library_bin_dir + "/lumen-gcs");
}

TEST_CASE("binary search order: override, executable, library, install, build") {
  TempDir root;
  BinaryPlaces places;
  places.override_dir = root.Stub("override", "lumen-gcs");
  places.executable_dir = root.Stub("exe", "lumen-gcs");
  places.library_bin_dir = root.Stub("lib_bin", "lumen-gcs");
  places.install_bin_dir = root.Stub("prefix/bin", "lumen-gcs");
  places.build_bin_dir = root.Stub("build/bin", "lumen-gcs");
  CHECK(BinarySearchDirs(places) ==
        std::vector<std::string>{places.override_dir, places.executable_dir, places.library_bin_dir,
                                 places.install_bin_dir, places.build_bin_dir});
  CHECK(Find(places) == places.override_dir + "/lumen-gcs");

  places.override_dir.clear();
  CHECK(Find(places) == places.executable_dir + "/lumen-gcs");
}

TEST_CASE("the build tree is the last resort") {
  TempDir root;
  BinaryPlaces places;
  places.executable_dir = root.Dir("app");
  places.install_bin_dir = root.Stub("prefix/bin", "lumen-gcs", /*executable=*/false);
  places.build_bin_dir = root.Stub("build/bin", "lumen-gcs");
  CHECK(Find(places) == places.build_bin_dir + "/lumen-gcs");

  places.build_bin_dir = root.Dir("empty_build/bin");
  std::string error = Find(places);
  CHECK_THAT(error, Catch::StartsWith("cannot find lumen-gcs in"));
  CHECK_THAT(error, Catch::Contains(places.install_bin_dir) && Catch::Contains("LUMEN_BIN_DIR"));
}

TEST_CASE("binary search dirs drop empty and repeated places") {
  BinaryPlaces places;
  places.executable_dir = "/opt/lumen/bin";
  places.install_bin_dir = "/opt/lumen/bin";
  CHECK(BinarySearchDirs(places) == std::vector<std::string>{"/opt/lumen/bin"});
}

// --- CheckOwnedPrivate and the files written and read through it ---

using lumen::CheckOwnedPrivate;
using lumen::EnsurePrivateDir;
using lumen::Privacy;
using lumen::ReadCurrentCluster;
using lumen::ReadOwnedPrivateFile;
using lumen::WriteCurrentCluster;
using lumen::WritePrivateFile;

namespace {

std::string Message(const absl::Status& status) { return std::string(status.message()); }

mode_t ModeOf(const std::string& path) {
  struct stat st {};
  ::lstat(path.c_str(), &st);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("the default temp dir is the user's own") {
  const char* saved = std::getenv("LUMEN_TEMP_DIR");
  std::string saved_value = saved ? saved : "";
  ::unsetenv("LUMEN_TEMP_DIR");
  CHECK(lumen::DefaultTempDir() == "/tmp/lumen-" + std::to_string(::getuid()));
  ::setenv("LUMEN_TEMP_DIR", "/var/tmp/mine", 1);
  CHECK(lumen::DefaultTempDir() == "/var/tmp/mine");
  if (saved) ::setenv("LUMEN_TEMP_DIR", saved_value.c_str(), 1);
  else ::unsetenv("LUMEN_TEMP_DIR");
}

TEST_CASE("CheckOwnedPrivate refuses what others may write, and symlinks") {
  TempDir root;
  const std::string dir = root.Dir("d");
  ::chmod(dir.c_str(), 0700);
  CHECK(CheckOwnedPrivate(dir).ok());
  ::chmod(dir.c_str(), 0755);
  CHECK(CheckOwnedPrivate(dir).ok());  // Readable by others is fine for a directory.
  ::chmod(dir.c_str(), 0777);
  absl::Status open_dir = CheckOwnedPrivate(dir);
  CHECK(absl::IsPermissionDenied(open_dir));
  CHECK(Message(open_dir) == "refusing " + dir + ": writable by group or others (mode 0777); " +
                                 "run chmod go-w " + dir);
  ::chmod(dir.c_str(), 0700);

  const std::string file = dir + "/f";
  std::ofstream(file) << "x\n";
  ::chmod(file.c_str(), 0644);
  CHECK(CheckOwnedPrivate(file).ok());
  absl::Status readable = CheckOwnedPrivate(file, Privacy::kOwnerOnly);
  CHECK(Message(readable) == "refusing " + file + ": readable by group or others (mode 0644); " +
                                 "run chmod 600 " + file);
  ::chmod(file.c_str(), 0620);
  CHECK_THAT(Message(CheckOwnedPrivate(file)), Catch::Contains("writable by group or others"));
  ::chmod(file.c_str(), 0600);
  CHECK(CheckOwnedPrivate(file, Privacy::kOwnerOnly).ok());

  const std::string link = dir + "/link";
  fs::create_symlink(file, link);
  CHECK(Message(CheckOwnedPrivate(link)) == "refusing " + link + ": a symbolic link; remove it");
  CHECK(absl::IsNotFound(CheckOwnedPrivate(dir + "/missing")));
}

TEST_CASE("CheckOwnedPrivate refuses another user's file") {
  if (::geteuid() != 0) {
    WARN("not root: cannot give a file to another user; skipping");
    return;
  }
  TempDir root;
  const std::string dir = root.Dir("d");
  const std::string file = dir + "/f";
  std::ofstream(file) << "x\n";
  ::chmod(file.c_str(), 0600);
  REQUIRE(::chown(file.c_str(), 65534, 65534) == 0);
  CHECK(Message(CheckOwnedPrivate(file)) ==
        "refusing " + file + ": owned by uid 65534, not you (uid 0); remove it");
  CHECK(Message(ReadOwnedPrivateFile(file).status()) ==
        "refusing " + file + ": owned by uid 65534, not you (uid 0); remove it");
  // A directory of another user: refused; root's own would be trusted.
  REQUIRE(::chown(dir.c_str(), 65534, 65534) == 0);
  CHECK_THAT(Message(CheckOwnedPrivate(dir)), Catch::Contains("owned by uid 65534"));
}

TEST_CASE("ReadOwnedPrivateFile checks the file it opened and its directory") {
  TempDir root;
  const std::string dir = root.Dir("d");
  ::chmod(dir.c_str(), 0700);
  const std::string file = dir + "/secret";
  std::ofstream(file) << "s3cret\n";
  ::chmod(file.c_str(), 0600);
  auto read = ReadOwnedPrivateFile(file, Privacy::kOwnerOnly);
  REQUIRE(read.ok());
  CHECK(*read == "s3cret\n");
  fs::create_symlink(file, dir + "/link");
  CHECK_THAT(Message(ReadOwnedPrivateFile(dir + "/link").status()),
             Catch::Contains("a symbolic link"));
  ::chmod(dir.c_str(), 0777);
  CHECK_THAT(Message(ReadOwnedPrivateFile(file).status()),
             Catch::StartsWith("refusing " + dir + ": writable by group or others"));
  ::chmod(dir.c_str(), 0700);
  CHECK(absl::IsNotFound(ReadOwnedPrivateFile(dir + "/missing").status()));
  CHECK(absl::IsNotFound(ReadOwnedPrivateFile(dir + "/no/such/file").status()));
}

TEST_CASE("WritePrivateFile replaces a planted symlink instead of following it") {
  TempDir root;
  const std::string dir = root.Dir("d");
  const std::string victim = root.Dir("elsewhere") + "/victim";
  std::ofstream(victim) << "precious\n";
  const std::string target = dir + "/lumen_current_cluster";
  fs::create_symlink(victim, target);
  REQUIRE(WritePrivateFile(target, "127.0.0.1:6379\n").ok());
  std::ifstream in(victim);
  std::string line;
  std::getline(in, line);
  CHECK(line == "precious");
  CHECK_FALSE(fs::is_symlink(target));
  CHECK(ModeOf(target) == 0600);
  auto read = ReadOwnedPrivateFile(target);
  REQUIRE(read.ok());
  CHECK(*read == "127.0.0.1:6379\n");
  CHECK(std::distance(fs::directory_iterator(dir), fs::directory_iterator()) == 1);  // No temp.
}

TEST_CASE("the temp dir and lumen_current_cluster are created private and read back") {
  TempDir root;
  const std::string temp = root.Dir("parent") + "/lumen-test";
  CHECK(absl::IsNotFound(ReadCurrentCluster(temp).status()));
  REQUIRE(WriteCurrentCluster(temp, "10.0.0.1:6379").ok());
  CHECK(ModeOf(temp) == 0700);
  CHECK(ModeOf(temp + "/lumen_current_cluster") == 0600);
  auto address = ReadCurrentCluster(temp);
  REQUIRE(address.ok());
  CHECK(*address == "10.0.0.1:6379");
  auto session = lumen::CreateSessionDir(temp);
  REQUIRE(session.ok());
  for (const std::string& d : {*session, *session + "/logs", *session + "/sockets"}) {
    CHECK(ModeOf(d) == 0700);
  }
  ::chmod(temp.c_str(), 0777);
  CHECK_THAT(Message(ReadCurrentCluster(temp).status()),
             Catch::StartsWith("refusing " + temp + ": writable by group or others"));
  CHECK_FALSE(lumen::CreateSessionDir(temp).ok());
  CHECK_FALSE(EnsurePrivateDir(temp).ok());
}

TEST_CASE("session directory names zero-pad milliseconds, so they sort by start time") {
  using std::chrono::milliseconds;
  const auto second = std::chrono::system_clock::from_time_t(1700000000);
  const std::string early = lumen::SessionDirName(second + milliseconds(5), 42);
  const std::string late = lumen::SessionDirName(second + milliseconds(40), 42);
  CHECK_THAT(early, Catch::EndsWith("_005_42"));
  CHECK_THAT(late, Catch::EndsWith("_040_42"));
  CHECK(early < late);
  CHECK(late < lumen::SessionDirName(second + milliseconds(1000), 42));
}

TEST_CASE("a joining node's session leaves session_latest at the head's") {
  TempDir root;
  const std::string temp = root.Dir("parent") + "/lumen-test";
  auto head = lumen::CreateSessionDir(temp);
  REQUIRE(head.ok());
  auto joined = lumen::CreateSessionDir(temp, lumen::SessionLatest::kKeepExisting);
  INFO(joined.status());
  REQUIRE(joined.ok());
  CHECK(*joined != *head);
  CHECK(std::filesystem::read_symlink(temp + "/session_latest") == *head);
  // A session_latest naming nothing (the head's dir was removed) is replaced.
  std::filesystem::remove_all(*head);
  auto next = lumen::CreateSessionDir(temp, lumen::SessionLatest::kKeepExisting);
  REQUIRE(next.ok());
  CHECK(std::filesystem::read_symlink(temp + "/session_latest") == *next);
}
