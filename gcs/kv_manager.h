// gcs/kv_manager.h
//
// KvManager is the internal key-value store (Ray's internal KV): byte
// values under string keys, in namespaces. Written through StoreClient
// before memory, so it survives a GCS restart on Redis. In the store, key
// `k` of namespace `ns` is "<len(ns)>:<ns><k>" (unambiguous for any ns).
// Threading: the GCS loop only. Failure: store errors are returned and
// leave the KV unchanged.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "gcs/store/store_client.h"

namespace lumen::gcs {

class KvManager {
 public:
  // `store` is not owned and must outlive the manager.
  explicit KvManager(StoreClient& store) : store_(store) {}

  absl::Status Load();
  // Sets the key unless it exists and `overwrite` is false. Returns true
  // when the key did not exist before.
  absl::StatusOr<bool> Put(const std::string& ns, const std::string& key, const std::string& value,
                           bool overwrite);
  std::optional<std::string> Get(const std::string& ns, const std::string& key) const;
  // Returns how many keys were deleted (0 or 1).
  absl::StatusOr<int> Del(const std::string& ns, const std::string& key);
  // The keys of `ns` starting with `prefix`, sorted.
  std::vector<std::string> Keys(const std::string& ns, const std::string& prefix) const;

  // The store key of (`ns`, `key`), and back.
  static std::string StoreKey(const std::string& ns, const std::string& key);
  static bool ParseStoreKey(const std::string& store_key, std::string& ns, std::string& key);

 private:
  StoreClient& store_;
  absl::flat_hash_map<std::string, std::map<std::string, std::string>> namespaces_;
};

}  // namespace lumen::gcs
