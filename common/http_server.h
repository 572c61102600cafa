// common/http_server.h
//
// HttpServer: a small HTTP/1.1 server on Boost.Beast for a daemon's own Asio
// loop (docs/dashboard.md says why Beast). It parses one request per
// connection (bounded: 16 KiB of headers, 1 MiB of body, 10 s to send it),
// hands it to the daemon's Handler on the loop thread and writes the answer
// with "Connection: close". A Response may stream: its body goes out with
// chunked transfer encoding, `body` first, then every piece `next_chunk`
// produces, polled on the loop every `stream_poll`, until it says it is
// done or the client goes away (then `next_chunk` is dropped unasked).
// Requests that are not HTTP get 400 from the server itself and never reach
// the handler.
// Threading: construct, Start, Stop and every handler call on the loop of
// `io` (Start may run before the loop does). The handler must not block for
// long: every other connection waits meanwhile.
// Failure: Start returns the bind error; a broken connection is closed and
// forgotten.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "absl/status/statusor.h"

namespace lumen::http {

struct Request {
  std::string method;  // "GET", "POST", ...
  std::string path;    // The target without its query: "/api/jobs/".
  std::string query;   // After '?', undecoded; empty when none.
  std::map<std::string, std::string> headers;  // Keys in lower case.
  std::string body;
  std::string Header(const std::string& lower_name) const;
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  // Non-null: a streamed answer (see the top of this file). Sets `chunk` to
  // what is new (may be empty) and returns false once nothing more will come.
  std::function<bool(std::string& chunk)> next_chunk;
};

using Handler = std::function<Response(const Request&)>;

struct HttpServerOptions {
  std::chrono::milliseconds stream_poll{200};
  size_t max_body_bytes = 1 << 20;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, Handler handler, HttpServerOptions options = {});
  ~HttpServer();

  // Listens on `ip:port` (0: a free port); returns the bound port.
  absl::StatusOr<int> Start(const std::string& ip, int port);
  // Stops accepting; connections in progress finish on their own.
  void Stop();

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

// A JSON error body as the dashboard answers it: {"error": message}.
Response JsonError(int status, const std::string& message);

}  // namespace lumen::http
