#include "gcs/store/redis_store_client.h"

#include <hiredis/hiredis.h>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "common/logging.h"
#include "common/status.h"

namespace lumen::gcs {
namespace {

timeval ToTimeval(int ms) {
  timeval tv;
  tv.tv_sec = ms / 1000;
  tv.tv_usec = (ms % 1000) * 1000;
  return tv;
}

std::string ReplyText(const redisReply* reply) { return std::string(reply->str, reply->len); }

}  // namespace

absl::Status ParseRedisAddress(const std::string& address, RedisStoreOptions& options) {
  size_t colon = address.rfind(':');
  int port = 0;
  if (colon == std::string::npos || colon == 0 ||
      !absl::SimpleAtoi(address.substr(colon + 1), &port) || port <= 0 || port > 65535) {
    return absl::InvalidArgumentError("bad Redis address '" + address +
                                      "': expected host:port, e.g. 127.0.0.1:6380");
  }
  options.host = address.substr(0, colon);
  options.port = port;
  return absl::OkStatus();
}

void RedisStoreClient::ReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

absl::StatusOr<std::unique_ptr<RedisStoreClient>> RedisStoreClient::Connect(
    RedisStoreOptions options) {
  std::unique_ptr<RedisStoreClient> client(new RedisStoreClient(std::move(options)));
  absl::MutexLock lock(&client->mu_);
  RETURN_IF_ERROR(client->EnsureConnected());
  return client;
}

RedisStoreClient::~RedisStoreClient() {
  absl::MutexLock lock(&mu_);
  Disconnect();
}

std::string RedisStoreClient::Where() const {
  return "Redis at " + options_.host + ":" + std::to_string(options_.port);
}

std::string RedisStoreClient::HashKey(const std::string& table) const {
  return "lumen:" + options_.cluster_namespace + ":" + table;
}

void RedisStoreClient::Disconnect() {
  if (context_ != nullptr) redisFree(context_);
  context_ = nullptr;
}

// Connects (when not connected), authenticates and PINGs, so that a wrong
// or missing password is reported here rather than on the first command.
absl::Status RedisStoreClient::EnsureConnected() {
  if (context_ != nullptr) return absl::OkStatus();
  redisContext* ctx = redisConnectWithTimeout(options_.host.c_str(), options_.port,
                                              ToTimeval(options_.connect_timeout_ms));
  if (ctx == nullptr || ctx->err != 0) {
    std::string why = ctx ? ctx->errstr : "out of memory";
    if (ctx) redisFree(ctx);
    return absl::UnavailableError("cannot connect to " + Where() + ": " + why);
  }
  redisSetTimeout(ctx, ToTimeval(options_.command_timeout_ms));
  context_ = ctx;
  std::vector<std::vector<std::string>> handshake;
  if (!options_.password.empty()) handshake.push_back({"AUTH", options_.password});
  handshake.push_back({"PING"});
  for (const auto& args : handshake) {
    bool broken = false;
    auto reply = CommandOnce(args, broken);
    if (!reply.ok()) {
      Disconnect();
      if (args[0] == "AUTH") {
        return absl::UnauthenticatedError(Where() +
                                          " refused the password given with "
                                          "--redis-password: " +
                                          std::string(reply.status().message()));
      }
      return reply.status();
    }
  }
  LOG(INFO) << "connected to " << Where();
  return absl::OkStatus();
}

// One attempt. `broken` is set when the connection failed (not when Redis
// answered with an error), telling the caller that a reconnect may help.
absl::StatusOr<RedisStoreClient::Reply> RedisStoreClient::CommandOnce(
    const std::vector<std::string>& args, bool& broken) {
  std::vector<const char*> argv;
  std::vector<size_t> lengths;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lengths.push_back(a.size());
  }
  Reply reply(static_cast<redisReply*>(
      redisCommandArgv(context_, static_cast<int>(argv.size()), argv.data(), lengths.data())));
  if (!reply) {
    broken = true;
    std::string why = context_->errstr[0] ? context_->errstr : "connection lost";
    return absl::UnavailableError("lost connection to " + Where() + ": " + why);
  }
  if (reply->type != REDIS_REPLY_ERROR) return reply;
  std::string text = ReplyText(reply.get());
  if (absl::StartsWith(text, "NOAUTH")) {
    return absl::UnauthenticatedError(Where() + " requires a password (--redis-password): " + text);
  }
  if (absl::StartsWith(text, "WRONGPASS") || absl::StartsWith(text, "ERR invalid password")) {
    return absl::UnauthenticatedError(text);
  }
  if (absl::StartsWith(text, "LOADING")) {
    return absl::UnavailableError(Where() + " is loading its data: " + text);
  }
  return absl::InternalError(Where() + " failed " + args[0] + ": " + text);
}

absl::StatusOr<RedisStoreClient::Reply> RedisStoreClient::Command(
    const std::vector<std::string>& args) {
  absl::MutexLock lock(&mu_);
  absl::Status last;
  for (int attempt = 0; attempt < 2; ++attempt) {
    RETURN_IF_ERROR(EnsureConnected());
    bool broken = false;
    auto reply = CommandOnce(args, broken);
    if (!broken) return reply;
    last = reply.status();
    LOG(WARNING) << last << "; reconnecting";
    Disconnect();
  }
  return last;
}

absl::Status RedisStoreClient::Put(const std::string& table, const std::string& key,
                                   const std::string& value) {
  return Command({"HSET", HashKey(table), key, value}).status();
}

absl::StatusOr<std::optional<std::string>> RedisStoreClient::Get(const std::string& table,
                                                                 const std::string& key) {
  ASSIGN_OR_RETURN(Reply reply, Command({"HGET", HashKey(table), key}));
  if (reply->type == REDIS_REPLY_NIL) return std::optional<std::string>();
  if (reply->type != REDIS_REPLY_STRING) {
    return absl::InternalError(Where() + ": unexpected reply type to HGET");
  }
  return std::optional<std::string>(ReplyText(reply.get()));
}

absl::StatusOr<bool> RedisStoreClient::Delete(const std::string& table, const std::string& key) {
  ASSIGN_OR_RETURN(Reply reply, Command({"HDEL", HashKey(table), key}));
  if (reply->type != REDIS_REPLY_INTEGER) {
    return absl::InternalError(Where() + ": unexpected reply type to HDEL");
  }
  return reply->integer > 0;
}

absl::StatusOr<TableContents> RedisStoreClient::GetAll(const std::string& table) {
  ASSIGN_OR_RETURN(Reply reply, Command({"HGETALL", HashKey(table)}));
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements % 2 != 0) {
    return absl::InternalError(Where() + ": unexpected reply type to HGETALL");
  }
  TableContents contents;
  for (size_t i = 0; i + 1 < reply->elements; i += 2) {
    contents[ReplyText(reply->element[i])] = ReplyText(reply->element[i + 1]);
  }
  return contents;
}

}  // namespace lumen::gcs
