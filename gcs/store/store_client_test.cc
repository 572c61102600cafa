// The same storage cases run against InMemoryStoreClient and against
// RedisStoreClient talking to a real redis-server child process; then the
// Redis-only cases: restarts, unreachable Redis, passwords, key layout.
#include <hiredis/hiredis.h>

#include <catch2/catch.hpp>

#include "gcs/store/in_memory_store_client.h"
#include "gcs/store/redis_store_client.h"
#include "gcs/store/redis_test_server.h"

using namespace lumen::gcs;

namespace {

// The cases every backend must pass.
void CheckStoreContract(StoreClient& store) {
  SECTION("missing keys and tables read as absent") {
    auto value = store.Get("T", "nope");
    REQUIRE(value.ok());
    CHECK_FALSE(value->has_value());
    auto all = store.GetAll("EMPTY");
    REQUIRE(all.ok());
    CHECK(all->empty());
    CHECK(store.Delete("T", "nope").value() == false);
  }
  SECTION("put, get, overwrite, delete") {
    REQUIRE(store.Put("T", "k", "v1").ok());
    CHECK(store.Get("T", "k").value() == std::optional<std::string>("v1"));
    REQUIRE(store.Put("T", "k", "v2").ok());
    CHECK(store.Get("T", "k").value() == std::optional<std::string>("v2"));
    CHECK(store.Delete("T", "k").value() == true);
    CHECK_FALSE(store.Get("T", "k").value().has_value());
  }
  SECTION("tables are separate and GetAll returns one table") {
    REQUIRE(store.Put("A", "x", "1").ok());
    REQUIRE(store.Put("A", "y", "2").ok());
    REQUIRE(store.Put("B", "x", "3").ok());
    auto a = store.GetAll("A").value();
    CHECK(a.size() == 2);
    CHECK(a["x"] == "1");
    CHECK(a["y"] == "2");
    CHECK(store.Get("B", "x").value() == std::optional<std::string>("3"));
  }
  SECTION("keys and values are binary safe") {
    std::string key("k\0\xff", 3);
    std::string value("\0\x01\x02 %s %b\n", 11);
    REQUIRE(store.Put("BIN", key, value).ok());
    CHECK(store.Get("BIN", key).value() == std::optional<std::string>(value));
    CHECK(store.GetAll("BIN").value()[key] == value);
  }
}

std::unique_ptr<RedisStoreClient> ConnectTo(const RedisTestServer& redis,
                                            const std::string& password = "") {
  RedisStoreOptions options;
  REQUIRE(ParseRedisAddress(redis.address(), options).ok());
  options.password = password;
  options.connect_timeout_ms = 500;
  auto client = RedisStoreClient::Connect(options);
  REQUIRE(client.ok());
  return std::move(*client);
}

std::unique_ptr<RedisTestServer> StartRedis(std::vector<std::string> args = {}) {
  auto redis = RedisTestServer::Start(std::move(args));
  REQUIRE(redis.ok());
  return std::move(*redis);
}

}  // namespace

TEST_CASE("in-memory store keeps the store contract") {
  InMemoryStoreClient store;
  CheckStoreContract(store);
}

TEST_CASE("Redis store keeps the store contract") {
  auto redis = StartRedis();
  auto store = ConnectTo(*redis);
  CheckStoreContract(*store);
}

TEST_CASE("Redis store keeps each table in the HASH lumen:<namespace>:<TABLE>") {
  auto redis = StartRedis();
  RedisStoreOptions options;
  REQUIRE(ParseRedisAddress(redis->address(), options).ok());
  options.cluster_namespace = "c1";
  auto store = std::move(RedisStoreClient::Connect(options).value());
  REQUIRE(store->Put("NODE", "abc", "info").ok());
  CHECK(store->HashKey("NODE") == "lumen:c1:NODE");
  redisContext* ctx = redisConnect("127.0.0.1", redis->port());
  REQUIRE(ctx != nullptr);
  auto* reply = static_cast<redisReply*>(redisCommand(ctx, "HGET lumen:c1:NODE abc"));
  REQUIRE(reply != nullptr);
  CHECK(std::string(reply->str, reply->len) == "info");
  freeReplyObject(reply);
  redisFree(ctx);
  // Another namespace sees nothing.
  options.cluster_namespace = "c2";
  auto other = std::move(RedisStoreClient::Connect(options).value());
  CHECK(other->GetAll("NODE").value().empty());
}

TEST_CASE("Redis store reconnects after redis-server restarts") {
  auto redis = StartRedis();
  auto store = ConnectTo(*redis);
  REQUIRE(store->Put("T", "before", "1").ok());
  REQUIRE(redis->Restart().ok());
  // The old connection is dead; the call reconnects and succeeds.
  REQUIRE(store->Put("T", "after", "2").ok());
  CHECK(store->Get("T", "after").value() == std::optional<std::string>("2"));
}

TEST_CASE("Redis store reports Redis being away, then recovers") {
  auto redis = StartRedis();
  auto store = ConnectTo(*redis);
  redis->Kill();
  auto st = store->Put("T", "k", "v");
  CHECK(absl::IsUnavailable(st));
  CHECK(st.message().find("Redis at " + redis->address()) != std::string::npos);
  REQUIRE(redis->Restart().ok());
  CHECK(store->Put("T", "k", "v").ok());
}

TEST_CASE("connecting to an unreachable Redis is a clear error") {
  RedisStoreOptions options;
  options.port = PickFreePort();
  options.connect_timeout_ms = 500;
  auto client = RedisStoreClient::Connect(options);
  REQUIRE_FALSE(client.ok());
  CHECK(absl::IsUnavailable(client.status()));
  CHECK(client.status().message().find("cannot connect to Redis at 127.0.0.1:" +
                                       std::to_string(options.port)) != std::string::npos);
}

TEST_CASE("Redis passwords: right one works, wrong or missing one is refused clearly") {
  auto redis = StartRedis({"--requirepass", "s3cret"});
  CHECK(ConnectTo(*redis, "s3cret")->Put("T", "k", "v").ok());

  RedisStoreOptions options;
  REQUIRE(ParseRedisAddress(redis->address(), options).ok());
  options.password = "wrong";
  auto wrong = RedisStoreClient::Connect(options);
  REQUIRE_FALSE(wrong.ok());
  CHECK(absl::IsUnauthenticated(wrong.status()));
  CHECK(wrong.status().message().find("refused the password") != std::string::npos);

  options.password = "";
  auto missing = RedisStoreClient::Connect(options);
  REQUIRE_FALSE(missing.ok());
  CHECK(absl::IsUnauthenticated(missing.status()));
  CHECK(missing.status().message().find("requires a password") != std::string::npos);
}

TEST_CASE("bad Redis addresses are rejected") {
  RedisStoreOptions options;
  CHECK(absl::IsInvalidArgument(ParseRedisAddress("localhost", options)));
  CHECK(absl::IsInvalidArgument(ParseRedisAddress("localhost:0", options)));
  CHECK(absl::IsInvalidArgument(ParseRedisAddress(":6379", options)));
  REQUIRE(ParseRedisAddress("10.0.0.1:6380", options).ok());
  CHECK(options.host == "10.0.0.1");
  CHECK(options.port == 6380);
}
