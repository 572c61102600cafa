// include/ray/api/ray_config.h
//
// RayConfig: how ray::Init connects or starts a cluster. Field names follow
// Ray's C++ API; num_cpus, num_gpus, object_store_memory and resources are
// Lumen additions matching ray.init(num_cpus=..., ...). They apply only
// when Init starts a private local cluster (no address and no RAY_ADDRESS).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace ray {

// Whether an actor outlives the driver that created it (Ray's C++ API).
// NON_DETACHED: it dies when its job's driver exits. DETACHED: it lives
// until killed, and later drivers can find it by name.
enum class ActorLifetime {
  NON_DETACHED,
  DETACHED,
};

class RayConfig {
 public:
  // "host:port" of a running cluster's GCS, "auto" for the cluster last
  // started on this machine, or empty (then RAY_ADDRESS, else a private
  // local cluster is started).
  std::string address = "";
  // Run tasks and actors inside this process, for debugging, as Ray's
  // local mode: no cluster is started or joined (RAY_ADDRESS is ignored;
  // `address` and `head_args` are refused), each task runs at Remote(),
  // actors are objects of this process (docs/workers.md, "Local mode").
  bool local_mode = false;
  // Directories (or .so files) holding the user's remote functions. Empty:
  // workers re-run the driver's own executable.
  std::vector<std::string> code_search_path;
  std::string redis_password_ = "";
  // Extra `lumen start --head` flags for the private local cluster, e.g.
  // {"--num-cpus=4", "--resources={\"special\": 1}"}.
  std::vector<std::string> head_args = {};
  // The namespace this job creates named actors in and looks them up in
  // by default (ray::GetNamespace()).
  std::string ray_namespace = "";
  // The lifetime of actors created without SetLifetime.
  ActorLifetime default_actor_lifetime = ActorLifetime::NON_DETACHED;

  // Lumen additions (private local cluster only). Negative: defaults.
  int num_cpus = -1;
  int num_gpus = -1;
  int64_t object_store_memory = -1;
  std::unordered_map<std::string, double> resources;
};

}  // namespace ray
