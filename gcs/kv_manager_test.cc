#include "gcs/kv_manager.h"

#include <catch2/catch.hpp>

#include "gcs/store/in_memory_store_client.h"

using namespace lumen::gcs;

TEST_CASE("KV put/get/del with overwrite semantics") {
  InMemoryStoreClient store;
  KvManager kv(store);
  CHECK(kv.Put("ns", "k", "v1", false).value() == true);
  CHECK(kv.Put("ns", "k", "v2", false).value() == false);  // Kept.
  CHECK(kv.Get("ns", "k") == std::optional<std::string>("v1"));
  CHECK(kv.Put("ns", "k", "v3", true).value() == false);  // Overwritten, not added.
  CHECK(kv.Get("ns", "k") == std::optional<std::string>("v3"));
  CHECK(kv.Del("ns", "k").value() == 1);
  CHECK(kv.Del("ns", "k").value() == 0);
  CHECK_FALSE(kv.Get("ns", "k").has_value());
}

TEST_CASE("KV namespaces are separate and keys list by prefix") {
  InMemoryStoreClient store;
  KvManager kv(store);
  REQUIRE(kv.Put("a", "fun:1", "x", true).ok());
  REQUIRE(kv.Put("a", "fun:2", "y", true).ok());
  REQUIRE(kv.Put("a", "other", "z", true).ok());
  REQUIRE(kv.Put("b", "fun:3", "w", true).ok());
  CHECK(kv.Keys("a", "fun:") == std::vector<std::string>{"fun:1", "fun:2"});
  CHECK(kv.Keys("a", "").size() == 3);
  CHECK(kv.Keys("b", "fun:") == std::vector<std::string>{"fun:3"});
  CHECK(kv.Keys("c", "").empty());
  CHECK_FALSE(kv.Get("b", "other").has_value());
}

TEST_CASE("KV store keys are unambiguous and the KV reloads") {
  std::string ns, key;
  REQUIRE(KvManager::ParseStoreKey(KvManager::StoreKey("a:b", "c"), ns, key));
  CHECK(ns == "a:b");
  CHECK(key == "c");
  CHECK(KvManager::StoreKey("a", "b:c") != KvManager::StoreKey("a:b", "c"));
  CHECK_FALSE(KvManager::ParseStoreKey("9:short", ns, key));

  InMemoryStoreClient store;
  {
    KvManager kv(store);
    REQUIRE(kv.Put("a:b", "c", "1", true).ok());
    REQUIRE(kv.Put("", "empty-ns", "2", true).ok());
    REQUIRE(kv.Put("x", "gone", "3", true).ok());
    REQUIRE(kv.Del("x", "gone").ok());
  }
  KvManager reloaded(store);
  REQUIRE(reloaded.Load().ok());
  CHECK(reloaded.Get("a:b", "c") == std::optional<std::string>("1"));
  CHECK(reloaded.Get("", "empty-ns") == std::optional<std::string>("2"));
  CHECK_FALSE(reloaded.Get("x", "gone").has_value());
}
