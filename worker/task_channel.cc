#include "worker/task_channel.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <cstring>
#include <deque>
#include <optional>
#include <unordered_set>

#include "absl/synchronization/mutex.h"
#include "common/event_loop.h"
#include "common/logging.h"
#include "common/rpc/auth.h"
#include "common/rpc/fault_injection.h"
#include "worker/log_forwarder.h"
#include "common/log_rate_limiter.h"
#include "worker/task_channel_tls.h"

namespace lumen::worker {
namespace {

using boost::asio::ip::tcp;

enum Kind : uint8_t { kHello = 1, kPush = 2, kReply = 3 };
constexpr size_t kHeaderBytes = 13;

struct Header {
  uint32_t len;
  Kind kind;
  uint64_t id;
};

Header ParseHeader(const char* bytes) {
  Header header;
  std::memcpy(&header.len, bytes, 4);
  header.kind = static_cast<Kind>(bytes[4]);
  std::memcpy(&header.id, bytes + 5, 8);
  return header;
}

std::string EncodeFrame(Kind kind, uint64_t id, const std::string& payload) {
  std::string frame(kHeaderBytes, '\0');
  uint32_t len = payload.size();
  std::memcpy(frame.data(), &len, 4);
  frame[4] = static_cast<char>(kind);
  std::memcpy(frame.data() + 5, &id, 8);
  frame += payload;
  return frame;
}

bool WriteFrame(ClientWire& wire, Kind kind, uint64_t id, const std::string& payload) {
  std::string frame = EncodeFrame(kind, id, payload);
  return wire.Write(frame.data(), frame.size());
}

// Reads one frame (the client's side); false on EOF, error, or a frame
// over the limit.
bool ReadFrame(ClientWire& wire, Kind* kind, uint64_t* id, std::string* payload) {
  char bytes[kHeaderBytes];
  if (!wire.Read(bytes, kHeaderBytes)) return false;
  Header header = ParseHeader(bytes);
  *kind = header.kind;
  *id = header.id;
  if (header.len > kMaxFrameBytes) {
    LOG(WARNING) << "task channel: closing a connection that sent a frame of " << header.len << " bytes";
    return false;
  }
  payload->resize(header.len);
  return wire.Read(payload->data(), header.len);
}

// A blocking connect of `fd` that gives up after `timeout`.
absl::Status ConnectWithin(int fd, const sockaddr_in& addr, std::chrono::milliseconds timeout) {
  int flags = ::fcntl(fd, F_GETFL);
  ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
  int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  int error = rc == 0 ? 0 : errno;
  if (error == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int ready;
    do {
      ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    } while (ready < 0 && errno == EINTR);
    if (ready == 0) {
      return absl::DeadlineExceededError("no answer within " + std::to_string(timeout.count()) + " ms");
    }
    socklen_t len = sizeof(error);
    if (ready < 0 || ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  }
  ::fcntl(fd, F_SETFL, flags);
  if (error != 0) return absl::UnavailableError(strerror(error));
  return absl::OkStatus();
}

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

// Why a connection was refused before it authenticated; each is logged at
// most once per kRefusalLogPeriod.
enum class Refusal { kNotHello, kOversizedHello, kWrongToken, kDeadline, kTooMany, kTls };
constexpr auto kRefusalLogPeriod = std::chrono::seconds(10);

std::string Describe(Refusal refusal) {
  switch (refusal) {
    case Refusal::kNotHello: return "its first frame was not a hello";
    case Refusal::kOversizedHello: return "its hello announced more than " + std::to_string(kMaxHelloBytes) + " bytes";
    case Refusal::kWrongToken: return "wrong token";
    case Refusal::kDeadline: return "no hello within the deadline";
    case Refusal::kTooMany: return "too many connections not yet authenticated";
    case Refusal::kTls: return "no TLS handshake with a certificate of the cluster CA";
  }
  return "?";
}

// Where replies go: the server's io_context until the server stops, then
// nowhere. Shared with every Reply, which may outlive the server.
struct ReplyRoute {
  absl::Mutex mu;
  boost::asio::io_context* io ABSL_GUARDED_BY(mu);
};

}  // namespace

// Everything below is owned by the loop thread, until the destructor has
// joined it.
struct TaskChannelServer::Impl {
  Impl(std::string token, Handler handler, TaskChannelServerOptions options)
      : token(std::move(token)), handler(std::move(handler)), options(options),
        route(std::make_shared<ReplyRoute>()) {
    absl::MutexLock lock(&route->mu);
    route->io = &loop.io_context();
  }

  void Accept();
  void OnAccepted(tcp::socket socket);
  void Refuse(Refusal refusal, const tcp::socket& socket);

  const std::string token;
  const Handler handler;
  const TaskChannelServerOptions options;
  std::unique_ptr<boost::asio::ssl::context> tls_context;  // Null: plaintext.
  std::shared_ptr<ReplyRoute> route;
  LogRateLimiter refusals{kRefusalLogPeriod};
  // The loop before what uses its io_context, so that it goes last.
  EventLoop loop;
  tcp::acceptor acceptor{loop.io_context()};
  boost::asio::steady_timer accept_retry{loop.io_context()};
  std::unordered_set<std::shared_ptr<Connection>> connections;
  int unauthenticated = 0;
};

// One connection: reads a header, then its payload, and again; a state
// machine on the loop thread:
//   unauthenticated --hello with the token--> authenticated --push--> ...
//   unauthenticated --anything else, deadline, EOF--> closed
// Replies are queued and written one at a time.
class TaskChannelServer::Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(Impl& server, tcp::socket socket)
      : server_(server), socket_(std::move(socket)), deadline_(server.loop.io_context()) {
    if (server.tls_context) tls_.emplace(socket_, *server.tls_context);
  }

  void Start();
  void Close();
  void Send(std::string frame);

 private:
  void ReadHeader();
  void OnHeader();
  void OnHello();
  void OnPush();
  void WriteNext();
  // Runs `op(stream)` on the TLS stream when there is one, else the socket.
  template <typename Op>
  void WithStream(Op op) {
    if (tls_) {
      op(*tls_);
    } else {
      op(socket_);
    }
  }

  Impl& server_;
  tcp::socket socket_;
  std::optional<boost::asio::ssl::stream<tcp::socket&>> tls_;
  boost::asio::steady_timer deadline_;
  char header_[kHeaderBytes];
  Header current_{};
  std::string payload_;
  bool authenticated_ = false;
  bool closed_ = false;
  std::deque<std::string> writes_;  // Front is being written.
};

void TaskChannelServer::Connection::Start() {
  deadline_.expires_after(server_.options.hello_deadline);
  deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
    if (ec || self->authenticated_ || self->closed_) return;
    self->server_.Refuse(Refusal::kDeadline, self->socket_);
    self->Close();
  });
  if (!tls_) return ReadHeader();
  tls_->async_handshake(boost::asio::ssl::stream_base::server,
                        [self = shared_from_this()](const boost::system::error_code& ec) {
                          if (self->closed_) return;
                          if (!ec) return self->ReadHeader();
                          self->server_.Refuse(Refusal::kTls, self->socket_);
                          self->Close();
                        });
}

void TaskChannelServer::Connection::Close() {
  if (closed_) return;
  closed_ = true;
  if (!authenticated_) --server_.unauthenticated;
  boost::system::error_code ignored;
  socket_.close(ignored);
  deadline_.cancel();
  server_.connections.erase(shared_from_this());
}

void TaskChannelServer::Connection::ReadHeader() {
  WithStream([this](auto& stream) {
    boost::asio::async_read(stream, boost::asio::buffer(header_),
                            [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                              if (ec || self->closed_) return self->Close();
                              self->OnHeader();
                            });
  });
}

void TaskChannelServer::Connection::OnHeader() {
  current_ = ParseHeader(header_);
  if (!authenticated_) {
    // Checked before anything is allocated for the payload.
    if (current_.kind != kHello || current_.len > kMaxHelloBytes) {
      server_.Refuse(current_.kind != kHello ? Refusal::kNotHello : Refusal::kOversizedHello, socket_);
      return Close();
    }
  } else if (current_.kind != kPush || current_.len > kMaxFrameBytes) {
    LOG(WARNING) << kLocalOnlyLogMarker << "task channel: closing a connection that sent a frame of kind "
                 << int(current_.kind) << " and " << current_.len << " bytes";
    return Close();
  }
  payload_.resize(current_.len);
  WithStream([this](auto& stream) {
    boost::asio::async_read(stream, boost::asio::buffer(payload_),
                            [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                              if (ec || self->closed_) return self->Close();
                              self->authenticated_ ? self->OnPush() : self->OnHello();
                            });
  });
}

void TaskChannelServer::Connection::OnHello() {
  if (!rpc::TokenEquals(payload_, server_.token)) {
    server_.Refuse(Refusal::kWrongToken, socket_);
    return Close();
  }
  authenticated_ = true;
  --server_.unauthenticated;
  deadline_.cancel();
  ReadHeader();
}

void TaskChannelServer::Connection::OnPush() {
  auto request = std::make_shared<rpc::PushTasksRequest>();
  bool parsed = request->ParseFromString(payload_);
  if (payload_.capacity() > (1u << 20)) std::string().swap(payload_);  // Not kept for the next.
  if (!parsed) {
    LOG(WARNING) << kLocalOnlyLogMarker << "task channel: closing a connection that sent a malformed push";
    return Close();
  }
  // Test-only faults (LUMEN_RPC_FAULTS, as for the PushTasks RPC): on TCP a
  // lost push or reply is a broken connection, so that is what is injected.
  if (rpc::ShouldInjectFault("PushTasks", rpc::FaultPoint::kRequest)) {
    LOG(WARNING) << kLocalOnlyLogMarker << "task channel: injected fault: request of PushTasks dropped";
    return Close();
  }
  const bool drop_reply = rpc::ShouldInjectFault("PushTasks", rpc::FaultPoint::kReply);
  ReadHeader();
  Reply reply = [route = server_.route, weak = weak_from_this(), id = current_.id, drop_reply](
                    const rpc::PushTasksReply& reply) {
    std::string frame = EncodeFrame(kReply, id, reply.SerializeAsString());
    absl::MutexLock lock(&route->mu);
    if (route->io == nullptr) return;  // The server is gone.
    boost::asio::post(*route->io, [weak, frame = std::move(frame), drop_reply]() mutable {
      auto self = weak.lock();
      if (!self) return;
      if (drop_reply) return self->Close();  // Injected: the reply is lost.
      self->Send(std::move(frame));
    });
  };
  server_.handler(std::move(request), std::move(reply));
}

void TaskChannelServer::Connection::Send(std::string frame) {
  if (closed_) return;
  writes_.push_back(std::move(frame));
  if (writes_.size() == 1) WriteNext();
}

void TaskChannelServer::Connection::WriteNext() {
  WithStream([this](auto& stream) {
    boost::asio::async_write(stream, boost::asio::buffer(writes_.front()),
                             [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                               if (ec || self->closed_) return self->Close();
                               self->writes_.pop_front();
                               if (!self->writes_.empty()) self->WriteNext();
                             });
  });
}

void TaskChannelServer::Impl::Accept() {
  acceptor.async_accept([this](const boost::system::error_code& ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted) return;  // Stopping.
    if (!ec) {
      OnAccepted(std::move(socket));
      return Accept();
    }
    // Out of descriptors, say: try again shortly rather than spin.
    LOG(WARNING) << kLocalOnlyLogMarker << "task channel: accept failed: " << ec.message();
    accept_retry.expires_after(std::chrono::milliseconds(100));
    accept_retry.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) Accept();
    });
  });
}

void TaskChannelServer::Impl::OnAccepted(tcp::socket socket) {
  if (unauthenticated >= options.max_unauthenticated) {
    Refuse(Refusal::kTooMany, socket);
    return;  // `socket` closes as it goes.
  }
  SetNoDelay(socket.native_handle());
  auto connection = std::make_shared<Connection>(*this, std::move(socket));
  connections.insert(connection);
  ++unauthenticated;
  connection->Start();
}

void TaskChannelServer::Impl::Refuse(Refusal refusal, const tcp::socket& socket) {
  std::optional<uint64_t> suppressed = refusals.Admit(static_cast<int>(refusal), LogRateLimiter::Clock::now());
  if (!suppressed) return;
  boost::system::error_code ec;
  auto peer = socket.remote_endpoint(ec);
  std::string more;
  if (*suppressed > 0) more = " (and " + std::to_string(*suppressed) + " more since the last such line)";
  LOG(WARNING) << kLocalOnlyLogMarker << "task channel: refused a connection from "
               << (ec ? std::string("?") : peer.address().to_string()) << ": " << Describe(refusal) << more;
}

TaskChannelServer::TaskChannelServer(std::string token, Handler handler, TaskChannelServerOptions options)
    : impl_(std::make_unique<Impl>(std::move(token), std::move(handler), options)) {}

TaskChannelServer::~TaskChannelServer() {
  {
    absl::MutexLock lock(&impl_->route->mu);
    impl_->route->io = nullptr;  // Replies from now on are dropped.
  }
  impl_->loop.StopAndJoin();
  // The loop is joined: its state is ours. Sockets close while the
  // io_context still exists; handlers left in it go with it.
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  auto connections = std::move(impl_->connections);
  for (const auto& connection : connections) connection->Close();
}

absl::StatusOr<int> TaskChannelServer::Start(const std::string& ip, int port) {
  if (impl_->options.tls) {
    auto context = MakeTlsContext(*impl_->options.tls, /*server=*/true);
    if (!context.ok()) return context.status();
    impl_->tls_context = std::move(*context);
  }
  boost::system::error_code ec;
  auto address = boost::asio::ip::make_address_v4(ip, ec);
  if (ec) return absl::InvalidArgumentError("task channel: bad IP " + ip);
  tcp::endpoint endpoint(address, static_cast<uint16_t>(port));
  impl_->acceptor.open(endpoint.protocol(), ec);
  // A given port may have connections of its last owner in TIME_WAIT.
  if (!ec && port != 0) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) impl_->acceptor.bind(endpoint, ec);
  if (!ec) impl_->acceptor.listen(boost::asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return absl::UnavailableError("task channel: cannot listen on " + ip + ":" + std::to_string(port) + ": " +
                                  ec.message());
  }
  port = impl_->acceptor.local_endpoint().port();
  impl_->loop.Post([impl = impl_.get()] { impl->Accept(); });
  impl_->loop.StartThread();
  return port;
}

struct TaskChannelClient::State {
  explicit State(int fd) : wire(fd) {}
  ClientWire wire;
  std::mutex mu;  // Guards the fields below and serializes writes.
  bool broken = false;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, Callback> pending;
};

absl::StatusOr<std::shared_ptr<TaskChannelClient>> TaskChannelClient::Connect(
    const std::string& ip, int port, const std::string& token, std::chrono::milliseconds timeout,
    const std::shared_ptr<const rpc::TlsCredentials>& tls) {
  if (token.size() > kMaxHelloBytes) {
    return absl::InvalidArgumentError("task channel: the cluster token is over " +
                                      std::to_string(kMaxHelloBytes) + " bytes");
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError("task channel: bad IP " + ip);
  }
  auto state = std::make_shared<State>(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  absl::Status connected = ConnectWithin(state->wire.fd(), addr, timeout);
  if (connected.ok() && tls) {
    auto context = MakeTlsContext(*tls, /*server=*/false);
    connected = context.ok() ? state->wire.StartTls(**context, ip, timeout) : context.status();
  }
  if (!connected.ok()) {
    return absl::Status(connected.code(), "task channel: cannot connect to " + ip + ":" +
                                              std::to_string(port) + ": " + std::string(connected.message()));
  }
  SetNoDelay(state->wire.fd());
  if (!WriteFrame(state->wire, kHello, 0, token)) {
    return absl::UnavailableError("task channel: cannot send the token");
  }
  std::shared_ptr<TaskChannelClient> client(new TaskChannelClient(state));
  client->reader_ = std::thread([state] { ReadLoop(state); });
  return client;
}

TaskChannelClient::~TaskChannelClient() { Close(); }

void TaskChannelClient::Close() {
  std::lock_guard<std::mutex> lock(close_mu_);
  state_->wire.Shutdown();
  if (!reader_.joinable()) return;
  if (reader_.get_id() == std::this_thread::get_id()) {
    reader_.detach();  // Dropped by one of its own callbacks: it ends by itself.
  } else {
    reader_.join();
  }
}

void TaskChannelClient::Push(const rpc::PushTasksRequest& request, Callback callback) {
  std::string bytes = request.SerializeAsString();
  std::unique_lock<std::mutex> lock(state_->mu);
  if (!state_->broken) {
    uint64_t id = state_->next_id++;
    state_->pending.emplace(id, std::move(callback));
    if (WriteFrame(state_->wire, kPush, id, bytes)) return;
    callback = std::move(state_->pending[id]);
    state_->pending.erase(id);
  }
  lock.unlock();
  callback(absl::UnavailableError("task channel to the worker is closed"), rpc::PushTasksReply());
}

void TaskChannelClient::ReadLoop(std::shared_ptr<State> state) {
  Kind kind;
  uint64_t id;
  std::string payload;
  while (ReadFrame(state->wire, &kind, &id, &payload)) {
    rpc::PushTasksReply reply;
    if (kind != kReply || !reply.ParseFromString(payload)) break;
    Callback callback;
    {
      std::lock_guard<std::mutex> lock(state->mu);
      auto it = state->pending.find(id);
      if (it == state->pending.end()) continue;
      callback = std::move(it->second);
      state->pending.erase(it);
    }
    callback(absl::OkStatus(), std::move(reply));
  }
  std::unordered_map<uint64_t, Callback> failed;
  {
    std::lock_guard<std::mutex> lock(state->mu);
    state->broken = true;
    failed.swap(state->pending);
  }
  for (auto& [id, callback] : failed) {
    callback(absl::UnavailableError("task channel to the worker closed (the worker died?)"),
             rpc::PushTasksReply());
  }
}

}  // namespace lumen::worker
