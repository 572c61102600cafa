// gcs/store/store_client.h
//
// StoreClient is where the GCS keeps the tables that must survive a GCS
// restart (nodes, jobs, internal KV, counters). A table is a name; in it,
// keys map to opaque values (serialized protobufs for the GCS's tables).
//
// Implementations: InMemoryStoreClient (the default; lost with the process)
// and RedisStoreClient (one Redis HASH per table, see redis_store_client.h).
//
// Calls are synchronous: the GCS talks to a Redis on the same host, where a
// round trip costs tens of microseconds, so blocking the GCS loop for it is
// cheaper than the complexity of callbacks. Implementations are thread-safe.
// Failure: every call returns absl::Status; UNAVAILABLE means the backend
// could not be reached (a later call may succeed: clients reconnect).
#pragma once

#include <optional>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace lumen::gcs {

using TableContents = absl::flat_hash_map<std::string, std::string>;

class StoreClient {
 public:
  virtual ~StoreClient() = default;

  // Sets `key` in `table` to `value`, replacing any previous value.
  virtual absl::Status Put(const std::string& table, const std::string& key,
                           const std::string& value) = 0;
  // The value of `key`, or nullopt when it is not there.
  virtual absl::StatusOr<std::optional<std::string>> Get(const std::string& table,
                                                         const std::string& key) = 0;
  // Removes `key`; true when it was there.
  virtual absl::StatusOr<bool> Delete(const std::string& table, const std::string& key) = 0;
  // Every key and value of `table` (empty when the table does not exist).
  virtual absl::StatusOr<TableContents> GetAll(const std::string& table) = 0;
};

}  // namespace lumen::gcs
