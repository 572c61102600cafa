#include "common/http_server.h"

#include <fcntl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <nlohmann/json.hpp>

#include "absl/strings/ascii.h"

namespace lumen::http {
namespace beast = boost::beast;
namespace bhttp = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {

constexpr auto kRequestTimeout = std::chrono::seconds(10);
constexpr uint32_t kMaxHeaderBytes = 16 * 1024;

Request ToRequest(const bhttp::request<bhttp::string_body>& in) {
  Request out;
  out.method = std::string(in.method_string());
  std::string target(in.target());
  const size_t q = target.find('?');
  out.path = target.substr(0, q);
  if (q != std::string::npos) out.query = target.substr(q + 1);
  for (const auto& field : in) {
    out.headers[absl::AsciiStrToLower(std::string(field.name_string()))] =
        std::string(field.value());
  }
  out.body = in.body();
  return out;
}

// One connection: read a request, answer it (maybe streaming), close.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, std::shared_ptr<const Handler> handler, HttpServerOptions options)
      : stream_(std::move(socket)), timer_(stream_.get_executor()), handler_(std::move(handler)),
        options_(options) {}

  void Read() {
    parser_.header_limit(kMaxHeaderBytes);
    parser_.body_limit(options_.max_body_bytes);
    stream_.expires_after(kRequestTimeout);
    bhttp::async_read(stream_, buffer_, parser_,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        self->OnRead(ec);
                      });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec == bhttp::error::end_of_stream || ec == beast::error::timeout) return Close();
    Response response;
    if (ec) {
      response = JsonError(ec == bhttp::error::body_limit ? 413 : 400,
                           "bad HTTP request: " + ec.message());
    } else {
      response = (*handler_)(ToRequest(parser_.get()));
    }
    stream_.expires_never();
    if (response.next_chunk) return StartStream(std::move(response));
    auto message = std::make_shared<bhttp::response<bhttp::string_body>>();
    Fill(*message, response);
    message->body() = std::move(response.body);
    message->prepare_payload();
    bhttp::async_write(stream_, *message,
                       [self = shared_from_this(), message](beast::error_code, size_t) {
                         self->Close();
                       });
  }

  template <typename Message>
  void Fill(Message& message, const Response& response) {
    message.version(11);
    message.result(static_cast<bhttp::status>(response.status));
    message.keep_alive(false);
    message.set(bhttp::field::server, "lumen");
    message.set(bhttp::field::content_type, response.content_type);
    message.set(bhttp::field::cache_control, "no-store");
    for (const auto& [name, value] : response.headers) message.set(name, value);
  }

  // Streaming: the header, `body` as the first chunk, then a poll of
  // next_chunk every stream_poll. A read that ends (the client closed)
  // ends the stream.
  void StartStream(Response response) {
    next_chunk_ = std::move(response.next_chunk);
    header_ = std::make_shared<bhttp::response<bhttp::empty_body>>();
    Fill(*header_, response);
    header_->chunked(true);
    serializer_ = std::make_shared<bhttp::response_serializer<bhttp::empty_body>>(*header_);
    pending_ = std::move(response.body);
    bhttp::async_write_header(stream_, *serializer_,
                              [self = shared_from_this()](beast::error_code ec, size_t) {
                                if (ec) return self->Close();
                                self->WatchForClose();
                                self->WritePending(true);
                              });
  }

  void WatchForClose() {
    stream_.async_read_some(net::buffer(probe_),
                            [self = shared_from_this()](beast::error_code ec, size_t) {
                              if (ec) self->client_gone_ = true;
                              else self->WatchForClose();
                            });
  }

  // Writes `pending_` (if any) as a chunk, then the last chunk when `more`
  // is false, else waits for the next poll.
  void WritePending(bool more) {
    if (client_gone_) return Close();
    if (!pending_.empty()) {
      auto data = std::make_shared<std::string>(std::move(pending_));
      pending_.clear();
      net::async_write(stream_.socket(), bhttp::make_chunk(net::buffer(*data)),
                       [self = shared_from_this(), data, more](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         self->AfterChunk(more);
                       });
      return;
    }
    AfterChunk(more);
  }

  void AfterChunk(bool more) {
    if (!more) {
      net::async_write(stream_.socket(), bhttp::make_chunk_last(),
                       [self = shared_from_this()](beast::error_code, size_t) { self->Close(); });
      return;
    }
    timer_.expires_after(options_.stream_poll);
    timer_.async_wait([self = shared_from_this()](beast::error_code ec) {
      if (ec) return self->Close();
      if (self->client_gone_) return self->Close();
      const bool again = self->next_chunk_(self->pending_);
      self->WritePending(again);
    });
  }

  void Close() {
    next_chunk_ = nullptr;
    timer_.cancel();
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  net::steady_timer timer_;
  std::shared_ptr<const Handler> handler_;
  const HttpServerOptions options_;
  beast::flat_buffer buffer_;
  bhttp::request_parser<bhttp::string_body> parser_;
  std::shared_ptr<bhttp::response<bhttp::empty_body>> header_;
  std::shared_ptr<bhttp::response_serializer<bhttp::empty_body>> serializer_;
  std::function<bool(std::string&)> next_chunk_;
  std::string pending_;
  char probe_[256];
  bool client_gone_ = false;
};

}  // namespace

std::string Request::Header(const std::string& lower_name) const {
  auto it = headers.find(lower_name);
  return it == headers.end() ? "" : it->second;
}

Response JsonError(int status, const std::string& message) {
  Response response;
  response.status = status;
  response.body = nlohmann::json{{"error", message}}.dump() + "\n";
  return response;
}

struct HttpServer::Impl : std::enable_shared_from_this<Impl> {
  Impl(net::io_context& io, Handler handler, HttpServerOptions options)
      : acceptor(io), handler(std::make_shared<const Handler>(std::move(handler))),
        options(options) {}

  void Accept() {
    acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
      if (ec == net::error::operation_aborted || !self->acceptor.is_open()) return;
      if (!ec) {
        ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);  // Not for forked children.
        std::make_shared<Session>(std::move(socket), self->handler, self->options)->Read();
      }
      self->Accept();
    });
  }

  tcp::acceptor acceptor;
  std::shared_ptr<const Handler> handler;  // Shared with every session.
  HttpServerOptions options;
};

HttpServer::HttpServer(net::io_context& io, Handler handler, HttpServerOptions options)
    : impl_(std::make_shared<Impl>(io, std::move(handler), options)) {}

HttpServer::~HttpServer() { Stop(); }

absl::StatusOr<int> HttpServer::Start(const std::string& ip, int port) {
  beast::error_code ec;
  const auto address = net::ip::make_address(ip, ec);
  if (ec) return absl::InvalidArgumentError("bad listen address \"" + ip + "\": " + ec.message());
  const tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  impl_->acceptor.open(endpoint.protocol(), ec);
  // Children the daemon forks (a dashboard's jobs) must not hold the
  // listening socket: connections would queue there unanswered.
  if (!ec) ::fcntl(impl_->acceptor.native_handle(), F_SETFD, FD_CLOEXEC);
  if (!ec) impl_->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    impl_->acceptor.close();
    const std::string where = ip + ":" + std::to_string(port);
    if (ec == net::error::address_in_use) {
      return absl::AlreadyExistsError(where + " is already in use");
    }
    return absl::UnavailableError("cannot listen on " + where + ": " + ec.message());
  }
  impl_->Accept();
  return static_cast<int>(impl_->acceptor.local_endpoint().port());
}

void HttpServer::Stop() {
  beast::error_code ignored;
  impl_->acceptor.close(ignored);
}

}  // namespace lumen::http
