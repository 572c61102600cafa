#include "worker/task_channel.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

#include "common/logging.h"
#include "common/rpc/auth.h"

namespace lumen::worker {
namespace {

enum Kind : uint8_t { kHello = 1, kPush = 2, kReply = 3 };
constexpr size_t kHeaderBytes = 13;

bool WriteAll(int fd, const char* data, size_t n) {
  while (n > 0) {
    ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= w;
  }
  return true;
}

bool ReadAll(int fd, char* data, size_t n) {
  while (n > 0) {
    ssize_t r = ::recv(fd, data, n, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    data += r;
    n -= r;
  }
  return true;
}

bool WriteFrame(int fd, Kind kind, uint64_t id, const std::string& payload) {
  std::string frame(kHeaderBytes, '\0');
  uint32_t len = payload.size();
  std::memcpy(frame.data(), &len, 4);
  frame[4] = static_cast<char>(kind);
  std::memcpy(frame.data() + 5, &id, 8);
  frame += payload;
  return WriteAll(fd, frame.data(), frame.size());
}

// Reads one frame; false on EOF, error, or a frame over the limit.
bool ReadFrame(int fd, Kind* kind, uint64_t* id, std::string* payload) {
  char header[kHeaderBytes];
  if (!ReadAll(fd, header, kHeaderBytes)) return false;
  uint32_t len;
  std::memcpy(&len, header, 4);
  *kind = static_cast<Kind>(header[4]);
  std::memcpy(id, header + 5, 8);
  if (len > kMaxFrameBytes) {
    LOG(WARNING) << "task channel: closing a connection that sent a frame of " << len << " bytes";
    return false;
  }
  payload->resize(len);
  return ReadAll(fd, payload->data(), len);
}

void SetNoDelay(int fd) {
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

}  // namespace

TaskChannelServer::TaskChannelServer(std::string token, Handler handler)
    : token_(std::move(token)), handler_(std::move(handler)) {}

TaskChannelServer::~TaskChannelServer() {
  stopping_ = true;
  if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (int fd : connections_) ::shutdown(fd, SHUT_RDWR);
  }
  if (accept_thread_.joinable()) accept_thread_.join();
  if (listen_fd_ >= 0) ::close(listen_fd_);
  // Connection threads use this object until they end.
  std::unique_lock<std::mutex> lock(mu_);
  served_.wait(lock, [this] { return connections_.empty(); });
}

absl::StatusOr<int> TaskChannelServer::Start(const std::string& ip) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = 0;
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError("task channel: bad IP " + ip);
  }
  socklen_t addr_len = sizeof(addr);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(listen_fd_, 64) != 0 ||
      ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &addr_len) != 0) {
    return absl::UnavailableError(std::string("task channel: cannot listen: ") + strerror(errno));
  }
  accept_thread_ = std::thread([this] { AcceptLoop(); });
  return ntohs(addr.sin_port);
}

void TaskChannelServer::AcceptLoop() {
  while (!stopping_) {
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      return;
    }
    SetNoDelay(fd);
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) {
        ::close(fd);
        return;
      }
      connections_.push_back(fd);
    }
    std::thread([this, fd] { Serve(fd); }).detach();
  }
}

void TaskChannelServer::Serve(int fd) {
  // Replies may outlive this thread; they share the socket and its lock.
  struct Conn {
    int fd;
    std::mutex write_mu;
    ~Conn() { ::close(fd); }
  };
  auto conn = std::make_shared<Conn>();
  conn->fd = fd;
  Kind kind;
  uint64_t id;
  std::string payload;
  bool authenticated = ReadFrame(fd, &kind, &id, &payload) && kind == kHello &&
                       rpc::TokenEquals(payload, token_);
  if (!authenticated) LOG(WARNING) << "task channel: refused a connection: missing or wrong token";
  while (authenticated && !stopping_ && ReadFrame(fd, &kind, &id, &payload)) {
    auto request = std::make_shared<rpc::PushTasksRequest>();
    if (kind != kPush || !request->ParseFromString(payload)) {
      LOG(WARNING) << "task channel: closing a connection that sent a malformed frame";
      break;
    }
    handler_(request, [conn, id](const rpc::PushTasksReply& reply) {
      std::string bytes = reply.SerializeAsString();
      std::lock_guard<std::mutex> lock(conn->write_mu);
      (void)WriteFrame(conn->fd, kReply, id, bytes);
    });
  }
  ::shutdown(fd, SHUT_RDWR);
  std::lock_guard<std::mutex> lock(mu_);
  std::erase(connections_, fd);
  served_.notify_all();
}

struct TaskChannelClient::State {
  int fd = -1;
  std::mutex mu;  // Guards the fields below and serializes writes.
  bool broken = false;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, Callback> pending;
  ~State() { ::close(fd); }
};

absl::StatusOr<std::shared_ptr<TaskChannelClient>> TaskChannelClient::Connect(
    const std::string& ip, int port, const std::string& token) {
  auto state = std::make_shared<State>();
  state->fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  if (::inet_pton(AF_INET, ip.c_str(), &addr.sin_addr) != 1 ||
      ::connect(state->fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    return absl::UnavailableError("task channel: cannot connect to " + ip + ":" +
                                  std::to_string(port) + ": " + strerror(errno));
  }
  SetNoDelay(state->fd);
  if (!WriteFrame(state->fd, kHello, 0, token)) {
    return absl::UnavailableError("task channel: cannot send the token");
  }
  std::shared_ptr<TaskChannelClient> client(new TaskChannelClient(state));
  client->reader_ = std::thread([state] { ReadLoop(state); });
  return client;
}

TaskChannelClient::~TaskChannelClient() { Close(); }

void TaskChannelClient::Close() {
  std::lock_guard<std::mutex> lock(close_mu_);
  ::shutdown(state_->fd, SHUT_RDWR);
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
    if (WriteFrame(state_->fd, kPush, id, bytes)) return;
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
  while (ReadFrame(state->fd, &kind, &id, &payload)) {
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
