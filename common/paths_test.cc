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
