// gcs/store/redis_store_client.h
//
// RedisStoreClient keeps the GCS tables in Redis through hiredis, so that a
// restarted GCS finds them again. Layout: table T of cluster namespace NS is
// the Redis HASH "lumen:<NS>:<T>"; each key of the table is a field of the
// hash, each value the field's value (binary safe).
//
// Threading: thread-safe; one connection used under a mutex, calls block the
// caller for one Redis round trip (see store_client.h for why).
// Failure: Connect() fails with a clear message when Redis is unreachable
// (UNAVAILABLE) or refuses the password (UNAUTHENTICATED). A call that finds
// the connection broken (Redis restarted) reconnects and retries once; if
// Redis is still away the call fails UNAVAILABLE and the next call tries
// again.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gcs/store/store_client.h"

struct redisContext;
struct redisReply;

namespace lumen::gcs {

struct RedisStoreOptions {
  std::string host = "127.0.0.1";
  int port = 6380;
  std::string password;                       // Empty: no AUTH.
  std::string cluster_namespace = "default";  // Lets clusters share one Redis.
  int connect_timeout_ms = 2000;
  int command_timeout_ms = 5000;
};

// Parses "host:port" into `options` (host and port only).
absl::Status ParseRedisAddress(const std::string& address, RedisStoreOptions& options);

class RedisStoreClient : public StoreClient {
 public:
  // Connects, authenticates and checks the connection with a PING.
  static absl::StatusOr<std::unique_ptr<RedisStoreClient>> Connect(RedisStoreOptions options);
  ~RedisStoreClient() override;

  absl::Status Put(const std::string& table, const std::string& key,
                   const std::string& value) override;
  absl::StatusOr<std::optional<std::string>> Get(const std::string& table,
                                                 const std::string& key) override;
  absl::StatusOr<bool> Delete(const std::string& table, const std::string& key) override;
  absl::StatusOr<TableContents> GetAll(const std::string& table) override;

  // The Redis key holding `table`.
  std::string HashKey(const std::string& table) const;

 private:
  struct ReplyDeleter {
    void operator()(redisReply* reply) const;
  };
  using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

  explicit RedisStoreClient(RedisStoreOptions options) : options_(std::move(options)) {}

  // Runs one command, reconnecting and retrying once on a broken connection.
  // Redis error replies become a Status.
  absl::StatusOr<Reply> Command(const std::vector<std::string>& args);
  absl::StatusOr<Reply> CommandOnce(const std::vector<std::string>& args, bool& broken)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status EnsureConnected() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Disconnect() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  std::string Where() const;

  const RedisStoreOptions options_;
  absl::Mutex mu_;
  redisContext* context_ ABSL_GUARDED_BY(mu_) = nullptr;
};

}  // namespace lumen::gcs
