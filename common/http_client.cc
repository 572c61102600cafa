#include "common/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace lumen::http {
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

absl::StatusOr<std::string> HostPortOfUrl(const std::string& url) {
  std::string rest = url;
  if (rest.rfind("http://", 0) == 0) {
    rest = rest.substr(7);
  } else if (rest.find("://") != std::string::npos) {
    return absl::InvalidArgumentError("\"" + url + "\" is not an http:// address (https is not "
                                      "served; use http://host:port)");
  }
  while (!rest.empty() && rest.back() == '/') rest.pop_back();
  const size_t colon = rest.rfind(':');
  if (rest.find('/') != std::string::npos || colon == std::string::npos || colon == 0 ||
      colon + 1 == rest.size() ||
      rest.find_first_not_of("0123456789", colon + 1) != std::string::npos) {
    return absl::InvalidArgumentError("\"" + url + "\" is not an address like http://host:port");
  }
  return rest;
}

absl::StatusOr<ClientResult> Fetch(const std::string& address, const ClientRequest& request) {
  auto host_port = HostPortOfUrl(address);
  if (!host_port.ok()) return host_port.status();
  const size_t colon = host_port->rfind(':');
  const std::string host = host_port->substr(0, colon);
  const std::string port = host_port->substr(colon + 1);
  net::io_context io;
  beast::tcp_stream stream(io);
  beast::error_code ec;
  tcp::resolver resolver(io);
  auto endpoints = resolver.resolve(host, port, ec);
  if (ec) return absl::UnavailableError("cannot resolve " + host + ": " + ec.message());
  // Asynchronous operations run to completion one by one: only those honour
  // the stream's deadline, which covers the whole exchange.
  if (request.timeout_ms > 0) {
    stream.expires_after(std::chrono::milliseconds(request.timeout_ms));
  } else {
    stream.expires_never();
  }
  auto run = [&io] {
    io.restart();
    io.run();
  };
  auto timed_out = [&] {
    return absl::DeadlineExceededError("no answer from " + *host_port + " within " +
                                       std::to_string(request.timeout_ms) + " ms");
  };
  stream.async_connect(endpoints, [&ec](beast::error_code e, const tcp::endpoint&) { ec = e; });
  run();
  if (ec == beast::error::timeout) return timed_out();
  if (ec) {
    return absl::UnavailableError("cannot connect to " + *host_port + ": " + ec.message());
  }
  bhttp::request<bhttp::string_body> out{bhttp::string_to_verb(request.method), request.target, 11};
  out.set(bhttp::field::host, *host_port);
  out.set(bhttp::field::user_agent, "lumen");
  for (const auto& [name, value] : request.headers) out.set(name, value);
  out.body() = request.body;
  out.prepare_payload();
  bhttp::async_write(stream, out, [&ec](beast::error_code e, size_t) { ec = e; });
  run();
  if (ec == beast::error::timeout) return timed_out();
  if (ec) return absl::UnavailableError("cannot send to " + *host_port + ": " + ec.message());
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.body_limit(boost::none);
  std::function<size_t(uint64_t, beast::string_view, beast::error_code&)> chunk_body =
      [&](uint64_t, beast::string_view piece, beast::error_code&) {
        request.on_chunk(std::string_view(piece.data(), piece.size()));
        return piece.size();
      };
  if (request.on_chunk) parser.on_chunk_body(chunk_body);
  bhttp::async_read(stream, buffer, parser, [&ec](beast::error_code e, size_t) { ec = e; });
  run();
  if (ec == beast::error::timeout) return timed_out();
  if (ec) return absl::UnavailableError("reading from " + *host_port + ": " + ec.message());
  ClientResult result;
  result.status = parser.get().result_int();
  result.body = std::move(parser.get().body());
  result.content_type = std::string(parser.get()[bhttp::field::content_type]);
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
  return result;
}

}  // namespace lumen::http
