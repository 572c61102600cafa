// raylet/node_resources.h
//
// How a raylet decides what its node offers: the --resources JSON, CPU, GPU
// and memory detection, and the assembly of the total ResourceSet with the
// special names Ray uses ("node:<ip>", "node:__internal_head__",
// "memory", "object_store_memory"). The parsers are pure functions of text
// so they are tested table-driven; Detect*() read /proc, /dev and the
// environment. Failure: user input errors come back as InvalidArgument
// whose message is one line fit for stderr.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/resources.h"
#include "raylet/resource_set.h"

namespace lumen::raylet {

// Share of MemAvailable reported as the "memory" resource; Ray leaves the
// other ~30% to the object store.
inline constexpr double kMemoryResourceFraction = 0.7;
// Share of MemAvailable reported as object_store_memory when not given.
inline constexpr double kObjectStoreFraction = 0.3;

// Parses --resources: a JSON object of non-negative numbers. "CPU" and
// "GPU" are refused (they have their own flags); "memory" is taken as the
// memory resource unless --memory is given.
// (common/resources.h; the one parser, shared with `lumen start`).
using ::lumen::ParseResourcesJson;

// Number of GPUs named by CUDA_VISIBLE_DEVICES ("0,1" -> 2, "" -> 0,
// "-1" -> 0: CUDA stops at the first invalid id).
int CountCudaVisibleDevices(const std::string& value);
// Counts "nvidia0", "nvidia12" ... among the names of /dev entries
// (not nvidiactl, nvidia-uvm ...).
int CountNvidiaDeviceFiles(const std::vector<std::string>& dev_entries);
// Counts the "GPU <n>: ..." lines of `nvidia-smi -L` output.
int CountNvidiaSmiGpus(const std::string& output);
// MemAvailable of /proc/meminfo text, in bytes; nullopt if absent.
std::optional<int64_t> ParseMemAvailableBytes(const std::string& meminfo);

// Probes of this machine.
int DetectNumCpus();
int DetectNumGpus();
int64_t DetectAvailableMemoryBytes();  // 0 when /proc/meminfo is unreadable.

// What the node offers; negative counts mean "detect".
struct NodeResourceOptions {
  std::string node_ip;
  bool is_head = false;
  double num_cpus = -1;
  double num_gpus = -1;
  int64_t memory_bytes = -1;
  int64_t object_store_memory_bytes = -1;
  std::map<std::string, double> custom;  // From --resources.
};

// The node's total resources, detecting what was not given.
ResourceSet BuildTotalResources(const NodeResourceOptions& options);

}  // namespace lumen::raylet
