#include "raylet/node_resources.h"

#include <dirent.h>
#include <sched.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/resources.h"
#include "nlohmann/json.hpp"

namespace lumen::raylet {

int CountCudaVisibleDevices(const std::string& value) {
  int count = 0;
  for (absl::string_view id : absl::StrSplit(value, ',')) {
    id = absl::StripAsciiWhitespace(id);
    if (id.empty() || id[0] == '-') break;  // CUDA ignores everything after an invalid id.
    ++count;
  }
  return count;
}

int CountNvidiaDeviceFiles(const std::vector<std::string>& dev_entries) {
  int count = 0;
  for (const auto& name : dev_entries) {
    if (name.size() <= 6 || name.compare(0, 6, "nvidia") != 0) continue;
    bool digits = true;
    for (size_t i = 6; i < name.size(); ++i) digits = digits && std::isdigit(name[i]);
    if (digits) ++count;
  }
  return count;
}

int CountNvidiaSmiGpus(const std::string& output) {
  int count = 0;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("GPU ", 0) == 0 && line.find(':') != std::string::npos) ++count;
  }
  return count;
}

std::optional<int64_t> ParseMemAvailableBytes(const std::string& meminfo) {
  std::istringstream in(meminfo);
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest(line);
    if (!absl::ConsumePrefix(&rest, "MemAvailable:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    bool kib = absl::ConsumeSuffix(&rest, "kB");
    int64_t value = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(rest), &value)) return std::nullopt;
    return kib ? value * 1024 : value;
  }
  return std::nullopt;
}

int DetectNumCpus() {
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  unsigned n = std::thread::hardware_concurrency();
  return n > 0 ? static_cast<int>(n) : 1;
}

namespace {

std::vector<std::string> ListDir(const char* path) {
  std::vector<std::string> names;
  DIR* dir = ::opendir(path);
  if (!dir) return names;
  while (dirent* entry = ::readdir(dir)) names.emplace_back(entry->d_name);
  ::closedir(dir);
  return names;
}

std::string RunNvidiaSmiList() {
  if (::access("/usr/bin/nvidia-smi", X_OK) != 0 && ::access("/bin/nvidia-smi", X_OK) != 0) {
    return "";
  }
  FILE* pipe = ::popen("nvidia-smi -L 2>/dev/null", "r");
  if (!pipe) return "";
  std::string output;
  char buf[512];
  while (size_t n = std::fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  ::pclose(pipe);
  return output;
}

}  // namespace

int DetectNumGpus() {
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
    return CountCudaVisibleDevices(visible);
  }
  int from_dev = CountNvidiaDeviceFiles(ListDir("/dev"));
  if (from_dev > 0) return from_dev;
  return CountNvidiaSmiGpus(RunNvidiaSmiList());
}

int64_t DetectAvailableMemoryBytes() {
  std::ifstream in("/proc/meminfo");
  std::stringstream text;
  text << in.rdbuf();
  return ParseMemAvailableBytes(text.str()).value_or(0);
}

ResourceSet BuildTotalResources(const NodeResourceOptions& options) {
  ResourceSet total = ResourceSet::FromMap(options.custom);
  total.Set("CPU", options.num_cpus >= 0 ? options.num_cpus : DetectNumCpus());
  total.Set("GPU", options.num_gpus >= 0 ? options.num_gpus : DetectNumGpus());
  int64_t available = (options.memory_bytes < 0 || options.object_store_memory_bytes < 0)
                          ? DetectAvailableMemoryBytes()
                          : 0;
  int64_t memory = options.memory_bytes;
  if (memory < 0 && options.custom.count("memory")) {
    memory = static_cast<int64_t>(options.custom.at("memory"));
  }
  if (memory < 0) memory = static_cast<int64_t>(available * kMemoryResourceFraction);
  int64_t store = options.object_store_memory_bytes >= 0
                      ? options.object_store_memory_bytes
                      : static_cast<int64_t>(available * kObjectStoreFraction);
  total.Set("memory", static_cast<double>(memory));
  total.Set("object_store_memory", static_cast<double>(store));
  total.Set("node:" + options.node_ip, 1);
  if (options.is_head) total.Set("node:__internal_head__", 1);
  return total;
}

}  // namespace lumen::raylet
