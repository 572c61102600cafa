#include "gcs/store/in_memory_store_client.h"

namespace lumen::gcs {

absl::Status InMemoryStoreClient::Put(const std::string& table, const std::string& key,
                                      const std::string& value) {
  absl::MutexLock lock(&mu_);
  tables_[table][key] = value;
  return absl::OkStatus();
}

absl::StatusOr<std::optional<std::string>> InMemoryStoreClient::Get(const std::string& table,
                                                                    const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto t = tables_.find(table);
  if (t == tables_.end()) return std::optional<std::string>();
  auto it = t->second.find(key);
  if (it == t->second.end()) return std::optional<std::string>();
  return std::optional<std::string>(it->second);
}

absl::StatusOr<bool> InMemoryStoreClient::Delete(const std::string& table, const std::string& key) {
  absl::MutexLock lock(&mu_);
  auto t = tables_.find(table);
  if (t == tables_.end()) return false;
  return t->second.erase(key) > 0;
}

absl::StatusOr<TableContents> InMemoryStoreClient::GetAll(const std::string& table) {
  absl::MutexLock lock(&mu_);
  auto t = tables_.find(table);
  if (t == tables_.end()) return TableContents();
  return t->second;
}

}  // namespace lumen::gcs
