// gcs/store/in_memory_store_client.h
//
// InMemoryStoreClient keeps the tables in this process: the GCS's default
// backend (state is lost when the GCS exits) and the fake store of unit
// tests. Thread-safe through one mutex; never fails.
#pragma once

#include "absl/synchronization/mutex.h"
#include "gcs/store/store_client.h"

namespace lumen::gcs {

class InMemoryStoreClient : public StoreClient {
 public:
  absl::Status Put(const std::string& table, const std::string& key,
                   const std::string& value) override;
  absl::StatusOr<std::optional<std::string>> Get(const std::string& table,
                                                 const std::string& key) override;
  absl::StatusOr<bool> Delete(const std::string& table, const std::string& key) override;
  absl::StatusOr<TableContents> GetAll(const std::string& table) override;

 private:
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, TableContents> tables_ ABSL_GUARDED_BY(mu_);
};

}  // namespace lumen::gcs
