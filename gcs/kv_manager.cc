#include "gcs/kv_manager.h"

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "gcs/tables.h"

namespace lumen::gcs {

std::string KvManager::StoreKey(const std::string& ns, const std::string& key) {
  return std::to_string(ns.size()) + ":" + ns + key;
}

bool KvManager::ParseStoreKey(const std::string& store_key, std::string& ns, std::string& key) {
  size_t colon = store_key.find(':');
  size_t ns_size = 0;
  if (colon == std::string::npos || !absl::SimpleAtoi(store_key.substr(0, colon), &ns_size) ||
      colon + 1 + ns_size > store_key.size()) {
    return false;
  }
  ns = store_key.substr(colon + 1, ns_size);
  key = store_key.substr(colon + 1 + ns_size);
  return true;
}

absl::Status KvManager::Load() {
  auto rows = store_.GetAll(kKvTable);
  if (!rows.ok()) return rows.status();
  size_t count = 0;
  for (const auto& [store_key, value] : *rows) {
    std::string ns, key;
    if (!ParseStoreKey(store_key, ns, key)) {
      LOG(ERROR) << "skipping KV record with a malformed key";
      continue;
    }
    namespaces_[ns][key] = value;
    ++count;
  }
  LOG(INFO) << "loaded " << count << " KV entries";
  return absl::OkStatus();
}

absl::StatusOr<bool> KvManager::Put(const std::string& ns, const std::string& key,
                                    const std::string& value, bool overwrite) {
  auto& entries = namespaces_[ns];
  bool exists = entries.contains(key);
  if (exists && !overwrite) return false;
  if (auto st = store_.Put(kKvTable, StoreKey(ns, key), value); !st.ok()) return st;
  entries[key] = value;
  return !exists;
}

std::optional<std::string> KvManager::Get(const std::string& ns, const std::string& key) const {
  auto n = namespaces_.find(ns);
  if (n == namespaces_.end()) return std::nullopt;
  auto it = n->second.find(key);
  if (it == n->second.end()) return std::nullopt;
  return it->second;
}

absl::StatusOr<int> KvManager::Del(const std::string& ns, const std::string& key) {
  auto n = namespaces_.find(ns);
  if (n == namespaces_.end() || !n->second.contains(key)) return 0;
  if (auto st = store_.Delete(kKvTable, StoreKey(ns, key)); !st.ok()) return st.status();
  n->second.erase(key);
  return 1;
}

std::vector<std::string> KvManager::Keys(const std::string& ns, const std::string& prefix) const {
  std::vector<std::string> out;
  auto n = namespaces_.find(ns);
  if (n == namespaces_.end()) return out;
  for (auto it = n->second.lower_bound(prefix);
       it != n->second.end() && absl::StartsWith(it->first, prefix); ++it) {
    out.push_back(it->first);
  }
  return out;
}

}  // namespace lumen::gcs
