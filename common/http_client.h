// common/http_client.h
//
// A blocking HTTP/1.1 client (Boost.Beast) for the CLI and tests: one
// request per connection to "host:port". Chunked answers can be consumed as
// they arrive (`on_chunk`), which is how `lumen job logs --follow` streams.
// Threading: any thread; each call blocks up to its timeout.
// Failure: Unavailable when nothing answers at the address, DeadlineExceeded
// on the timeout; any HTTP status is a successful result for the caller to
// judge.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lumen::http {

struct ClientResult {
  int status = 0;
  std::string body;  // Without the pieces handed to on_chunk.
  std::string content_type;
};

struct ClientRequest {
  std::string method = "GET";
  std::string target = "/";
  std::map<std::string, std::string> headers;
  std::string body;
  // 0: no limit (a streamed answer that lasts as long as a job).
  int timeout_ms = 10000;
  // Non-null: the body of a chunked answer goes here piece by piece.
  std::function<void(std::string_view)> on_chunk;
};

// `address` is "host:port" (an "http://" prefix and a trailing '/' are
// accepted).
absl::StatusOr<ClientResult> Fetch(const std::string& address, const ClientRequest& request);

// "http://host:port/" -> "host:port"; InvalidArgument for other schemes
// or no port.
absl::StatusOr<std::string> HostPortOfUrl(const std::string& url);

}  // namespace lumen::http
