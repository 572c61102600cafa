#include "common/paths.h"

#include <dlfcn.h>
#include <link.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>

#include "common/process.h"

namespace fs = std::filesystem;

namespace lumen {

std::string DefaultTempDir() {
  if (const char* d = std::getenv("LUMEN_TEMP_DIR"); d && *d) return d;
  return "/tmp/lumen";
}

std::vector<std::string> BinarySearchDirs(const BinaryPlaces& places) {
  std::vector<std::string> dirs;
  // The build tree the code was compiled in comes last: it may be stale or
  // half rebuilt long after this copy was installed. Code run from the build
  // tree finds it earlier anyway, as its executable's or library's place.
  for (const std::string* dir : {&places.override_dir, &places.executable_dir,
                                 &places.library_bin_dir, &places.install_bin_dir,
                                 &places.build_bin_dir}) {
    if (!dir->empty() && std::find(dirs.begin(), dirs.end(), *dir) == dirs.end()) {
      dirs.push_back(*dir);
    }
  }
  return dirs;
}

absl::StatusOr<std::string> FindBinaryIn(const std::string& name,
                                         const std::vector<std::string>& dirs) {
  std::string searched;
  for (const auto& dir : dirs) {
    std::string path = dir + "/" + name;
    if (::access(path.c_str(), X_OK) == 0) return path;
    searched += " " + dir;
  }
  return absl::NotFoundError("cannot find " + name + " in" + searched +
                             " (set LUMEN_BIN_DIR to the directory holding it)");
}

namespace {

// <dir>/../bin for the shared library this code is linked into (a driver
// using <prefix>/lib/liblumen_ray.so wants <prefix>/bin, wherever that
// prefix was moved), or "" when the code is part of the executable itself.
std::string LibraryBinDir() {
  Dl_info info{};
  link_map* map = nullptr;
  if (::dladdr1(reinterpret_cast<void*>(&LibraryBinDir), &info, reinterpret_cast<void**>(&map),
                RTLD_DL_LINKMAP) == 0 ||
      map == nullptr || map->l_name == nullptr || map->l_name[0] == '\0') {
    return "";  // Not found, or the main program (whose link map has no name).
  }
  return (fs::path(map->l_name).parent_path().parent_path() / "bin").string();
}

}  // namespace

absl::StatusOr<std::string> FindLumenBinary(const std::string& name) {
  BinaryPlaces places;
  if (const char* d = std::getenv("LUMEN_BIN_DIR"); d && *d) places.override_dir = d;
  std::string self = SelfExecutablePath();
  if (!self.empty()) places.executable_dir = fs::path(self).parent_path().string();
  places.library_bin_dir = LibraryBinDir();
#ifdef LUMEN_BUILD_BIN_DIR
  places.build_bin_dir = LUMEN_BUILD_BIN_DIR;
#endif
#ifdef LUMEN_INSTALL_BIN_DIR
  places.install_bin_dir = LUMEN_INSTALL_BIN_DIR;
#endif
  return FindBinaryIn(name, BinarySearchDirs(places));
}

absl::StatusOr<std::string> CreateSessionDir(const std::string& temp_dir) {
  std::error_code ec;
  fs::create_directories(temp_dir, ec);
  if (ec) return absl::PermissionDeniedError("cannot create " + temp_dir + ": " + ec.message());
  auto now = std::chrono::system_clock::now();
  std::time_t t = std::chrono::system_clock::to_time_t(now);
  char stamp[64];
  std::strftime(stamp, sizeof(stamp), "%Y-%m-%d_%H-%M-%S", std::localtime(&t));
  int ms = std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::string session = temp_dir + "/session_" + stamp + "_" + std::to_string(ms) + "_" +
                        std::to_string(::getpid());
  fs::create_directories(session + "/logs", ec);
  fs::create_directories(session + "/sockets", ec);
  if (ec) return absl::PermissionDeniedError("cannot create " + session + ": " + ec.message());
  ::chmod((session + "/sockets").c_str(), 0700);
  std::string latest = temp_dir + "/session_latest";
  std::string tmp_link = latest + ".tmp" + std::to_string(::getpid());
  fs::remove(tmp_link, ec);
  fs::create_directory_symlink(session, tmp_link, ec);
  if (!ec) fs::rename(tmp_link, latest, ec);
  return session;
}

absl::Status WriteCurrentCluster(const std::string& temp_dir, const std::string& address) {
  std::string path = temp_dir + "/lumen_current_cluster";
  std::ofstream out(path, std::ios::trunc);
  if (!out) return absl::PermissionDeniedError("cannot write " + path);
  out << address << "\n";
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadCurrentCluster(const std::string& temp_dir) {
  std::string path = temp_dir + "/lumen_current_cluster";
  std::ifstream in(path);
  std::string address;
  if (!in || !std::getline(in, address) || address.empty()) {
    return absl::NotFoundError("no running cluster recorded in " + path +
                               " (start one with `lumen start --head`)");
  }
  return address;
}

std::string DefaultNodeIp() {
  if (const char* ip = std::getenv("LUMEN_NODE_IP"); ip && *ip) return ip;
  return "127.0.0.1";
}

}  // namespace lumen
