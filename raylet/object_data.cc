#include "raylet/object_data.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <functional>
#include <optional>
#include <string_view>

#include "common/logging.h"
#include "common/status.h"
#include "common/rpc/auth.h"
#include "plasma/client.h"

namespace lumen::raylet {
namespace {

constexpr char kMagic[4] = {'L', 'M', 'D', '1'};
constexpr uint64_t kMaxWrite = 16 << 20;  // One send() or recv() at most.
constexpr uint64_t kPauseAfter = 8 << 20;  // testing_pause_ms

void SetTimeouts(int fd, int timeout_ms) {
  timeval tv{timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

absl::Status Errno(const std::string& what) {
  return absl::UnavailableError(what + ": " + std::strerror(errno));
}

// All of `n` bytes, or why not.
absl::Status SendAll(int fd, const void* data, uint64_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    ssize_t sent = ::send(fd, p, std::min(n, kMaxWrite), MSG_NOSIGNAL);
    if (sent < 0 && errno == EINTR) continue;
    if (sent <= 0) return Errno("send");
    p += sent;
    n -= sent;
  }
  return absl::OkStatus();
}

// The pages of [data, data + n) go to the socket through a pipe (vmsplice,
// then splice), which spares the copy into socket buffers on this side; the
// peer then reads them from these very pages, so they must not change until
// it acknowledges the range (the plasma object stays held until then).
// Plain send() where the kernel refuses.
absl::Status SpliceAll(int fd, const uint8_t* data, uint64_t n) {
  constexpr uint64_t kPipeBytes = 1 << 20;
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0) return SendAll(fd, data, n);
  (void)::fcntl(pipe_fds[1], F_SETPIPE_SZ, static_cast<int>(kPipeBytes));  // Best effort.
  absl::Status status;
  uint64_t sent = 0;
  while (status.ok() && sent < n) {
    iovec iov{const_cast<uint8_t*>(data + sent), std::min(n - sent, kPipeBytes)};
    ssize_t in = ::vmsplice(pipe_fds[1], &iov, 1, 0);
    if (in < 0 && errno == EINTR) continue;
    if (in <= 0) {
      status = sent == 0 ? SendAll(fd, data, n) : Errno("vmsplice");
      sent = n;
      break;
    }
    for (ssize_t left = in; status.ok() && left > 0;) {
      ssize_t out = ::splice(pipe_fds[0], nullptr, fd, nullptr, left, SPLICE_F_MOVE | SPLICE_F_MORE);
      if (out < 0 && errno == EINTR) continue;
      if (out <= 0) status = Errno("splice");
      else left -= out;
    }
    sent += in;
  }
  ::close(pipe_fds[0]);
  ::close(pipe_fds[1]);
  return status;
}

absl::Status RecvAll(int fd, void* data, uint64_t n) {
  char* p = static_cast<char*>(data);
  while (n > 0) {
    ssize_t got = ::recv(fd, p, std::min(n, kMaxWrite), MSG_WAITALL);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Errno("recv");
    if (got == 0) return absl::UnavailableError("the connection closed early");
    p += got;
    n -= got;
  }
  return absl::OkStatus();
}

std::string Peer(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  char ip[INET_ADDRSTRLEN] = "?";
  if (getpeername(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof(ip));
    return std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
  }
  return ip;
}

absl::Status SendReply(int fd, uint32_t code, uint64_t length, const std::string& message) {
  DataReplyHeader reply{code, static_cast<uint32_t>(message.size()), length};
  RETURN_IF_ERROR(SendAll(fd, &reply, sizeof(reply)));
  return SendAll(fd, message.data(), message.size());
}

}  // namespace

ObjectDataServer::ObjectDataServer(ObjectDataServerOptions options)
    : options_(std::move(options)),
      counters_(options_.counters ? options_.counters : &unread_counters_),
      plasma_(options_.plasma_socket) {}

ObjectDataServer::~ObjectDataServer() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (int fd : queue_) ::close(fd);
    queue_.clear();
    for (int fd : active_) ::shutdown(fd, SHUT_RDWR);  // Their threads close them.
  }
  cv_.notify_all();
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  if (acceptor_.joinable()) acceptor_.join();
  for (std::thread& t : servers_) t.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
}

absl::Status ObjectDataServer::Start() {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(options_.port);
  if (inet_pton(AF_INET, options_.ip.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError("object data port: not an IPv4 address: " + options_.ip);
  }
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) return Errno("object data port: socket");
  socklen_t len = sizeof(addr);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0 || getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    return Errno("object data port: cannot listen on " + options_.ip + ":" + std::to_string(options_.port));
  }
  port_ = ntohs(addr.sin_port);
  acceptor_ = std::thread([this] { AcceptLoop(); });
  for (int i = 0; i < std::max(1, options_.threads); ++i) servers_.emplace_back([this] { ServeLoop(); });
  return absl::OkStatus();
}

std::vector<std::string> ObjectDataServer::CopiesOf(const ObjectId& id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = copies_.find(id);
  return it == copies_.end() ? std::vector<std::string>{} : it->second;
}

void ObjectDataServer::AcceptLoop() {
  for (;;) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    const int error = errno;
    std::unique_lock<std::mutex> lock(mu_);
    if (stopping_) {
      if (fd >= 0) ::close(fd);
      return;
    }
    if (fd < 0) {
      if (error != EINTR && error != ECONNABORTED) {
        LOG_EVERY_N(WARNING, 100) << "object data port: accept: " << std::strerror(error);
        lock.unlock();
        std::this_thread::sleep_for(std::chrono::milliseconds(10));  // EMFILE and the like: no spinning.
      }
      continue;
    }
    if (queue_.size() >= static_cast<size_t>(options_.max_queued)) {
      LogRefusal(fd, "refused", std::to_string(options_.max_queued) + " connections already wait");
      ::close(fd);
      continue;
    }
    queue_.push_back(fd);
    cv_.notify_one();
  }
}

void ObjectDataServer::ServeLoop() {
  for (;;) {
    int fd;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (stopping_) return;
      fd = queue_.front();
      queue_.pop_front();
      active_.insert(fd);
    }
    Serve(fd);
    std::lock_guard<std::mutex> lock(mu_);
    active_.erase(fd);
    ::close(fd);
  }
}

void ObjectDataServer::LogRefusal(int fd, std::string_view what, std::string_view why) {
  std::optional<uint64_t> suppressed;
  {
    std::lock_guard<std::mutex> lock(refusals_mu_);
    const int kind = static_cast<int>(std::hash<std::string_view>{}(why));
    suppressed = refusals_.Admit(kind, LogRateLimiter::Clock::now());
  }
  if (!suppressed) return;
  std::string more;
  if (*suppressed > 0) more = " (and " + std::to_string(*suppressed) + " more since the last such line)";
  LOG(WARNING) << "object data port: " << what << " a connection from " << Peer(fd) << ": " << why << more;
}

void ObjectDataServer::Serve(int fd) {
  SetTimeouts(fd, options_.header_timeout_ms);
  absl::StatusOr<DataRequestHeader> header = ReadHeader(fd);
  if (!header.ok()) {
    LogRefusal(fd, "closed", std::string(header.status().message()));
    return;
  }
  SetTimeouts(fd, options_.io_timeout_ms);
  ++in_flight_;
  absl::Status sent = Send(fd, *header);
  --in_flight_;
  if (!sent.ok()) LOG(WARNING) << "object data port: a send to " << Peer(fd) << " failed: " << sent.message();
}

absl::StatusOr<DataRequestHeader> ObjectDataServer::ReadHeader(int fd) {
  DataRequestHeader header;
  RETURN_IF_ERROR(RecvAll(fd, &header, sizeof(header)));
  if (std::memcmp(header.magic, kMagic, sizeof(kMagic)) != 0) return absl::InvalidArgumentError("not a data request");
  if (header.token_size > kMaxTokenBytes) return absl::InvalidArgumentError("malformed header (token size)");
  std::string token(header.token_size, '\0');
  RETURN_IF_ERROR(RecvAll(fd, token.data(), token.size()));
  if (!rpc::TokenEquals(token, options_.token)) return absl::PermissionDeniedError("wrong cluster token");
  return header;
}

absl::Status ObjectDataServer::Send(int fd, const DataRequestHeader& header) {
  const ObjectId id = *ObjectId::FromBinary(std::string(header.object_id, sizeof(header.object_id)));
  auto connected = plasma_.Get();
  if (!connected.ok()) return SendReply(fd, 2, 0, "this node's object store is not reachable");
  std::shared_ptr<plasma::PlasmaClient> plasma = *std::move(connected);
  auto got = plasma->Get({id}, 0);
  if (!got.ok()) return SendReply(fd, 2, 0, std::string(got.status().message()));
  if (!(*got)[0]) return SendReply(fd, 1, 0, "object " + id.Hex() + " is not in this node's store");
  const plasma::ObjectBuffer& b = *(*got)[0];
  absl::Status status;
  if (header.offset > b.data_size || header.length > b.data_size - header.offset) {
    status = SendReply(fd, 3, 0, "range past the object's end");
  } else {
    status = SendReply(fd, 0, header.length, "");
    const uint8_t* data = b.data + header.offset;
    uint64_t first = header.length;
    if (options_.testing_pause_ms > 0 && first > kPauseAfter) first = kPauseAfter;
    if (status.ok()) status = SpliceAll(fd, data, first);
    if (status.ok() && first < header.length) {
      std::this_thread::sleep_for(std::chrono::milliseconds(options_.testing_pause_ms));
      status = SpliceAll(fd, data + first, header.length - first);
    }
    char ack;  // The puller has every byte: the pages may be released.
    if (status.ok()) status = RecvAll(fd, &ack, 1);
    if (status.ok()) counters_->bytes_sent.fetch_add(header.length, std::memory_order_relaxed);
    const std::string requester(header.requester_node_id, sizeof(header.requester_node_id));
    if (status.ok() && header.offset == 0 && header.length == b.data_size &&
        requester != std::string(NodeId::kSize, '\0')) {
      RecordCopy(id, requester);
    }
  }
  (void)plasma->Release(id);
  return status;
}

void ObjectDataServer::RecordCopy(const ObjectId& id, const std::string& node) {
  std::lock_guard<std::mutex> lock(mu_);
  auto [it, inserted] = copies_.try_emplace(id);
  if (inserted) {
    copies_order_.push_back(id);
    if (copies_order_.size() > options_.max_objects) {
      copies_.erase(copies_order_.front());
      copies_order_.pop_front();
    }
  }
  std::vector<std::string>& nodes = it->second;
  nodes.erase(std::remove(nodes.begin(), nodes.end(), node), nodes.end());
  nodes.insert(nodes.begin(), node);
  if (nodes.size() > options_.copies_per_object) nodes.pop_back();
}

absl::Status ReadObjectRange(const std::string& ip, int port, const std::string& token, const ObjectId& id,
                             const std::string& requester, uint64_t offset, uint64_t length, uint8_t* dest,
                             int io_timeout_ms) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError("not an IPv4 address: " + ip);
  }
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return Errno("socket");
  SetTimeouts(fd, io_timeout_ms);
  auto body = [&]() -> absl::Status {
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
      return Errno("connect to the data port " + ip + ":" + std::to_string(port));
    }
    DataRequestHeader header{};
    std::memcpy(header.magic, kMagic, sizeof(kMagic));
    header.token_size = static_cast<uint32_t>(token.size());
    header.offset = offset;
    header.length = length;
    std::memcpy(header.object_id, id.Binary().data(), sizeof(header.object_id));
    if (requester.size() == NodeId::kSize) std::memcpy(header.requester_node_id, requester.data(), NodeId::kSize);
    RETURN_IF_ERROR(SendAll(fd, &header, sizeof(header)));
    RETURN_IF_ERROR(SendAll(fd, token.data(), token.size()));
    DataReplyHeader reply;
    RETURN_IF_ERROR(RecvAll(fd, &reply, sizeof(reply)));
    if (reply.code != 0) {
      std::string message(std::min<uint32_t>(reply.message_size, 4096), '\0');
      (void)RecvAll(fd, message.data(), message.size());
      return reply.code == 1 ? absl::NotFoundError(message) : absl::UnavailableError(message);
    }
    if (reply.length != length) return absl::DataLossError("the source offers another length");
    RETURN_IF_ERROR(RecvAll(fd, dest, length));
    return SendAll(fd, "k", 1);  // The ack: the source may release the object.
  };
  absl::Status status = body();
  ::close(fd);
  return status;
}

}  // namespace lumen::raylet
