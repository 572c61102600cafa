#include "raylet/plasma_check.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "common/logging.h"

#ifdef LUMEN_RAYLET_WITH_PLASMA_CLIENT
#include "plasma/client.h"
#endif

namespace lumen::raylet {

absl::Status CheckPlasmaStore(const std::string& socket_path) {
#ifdef LUMEN_RAYLET_WITH_PLASMA_CLIENT
  auto client = plasma::PlasmaClient::Connect(socket_path);
  if (!client.ok()) return client.status();
  return (*client)->Ping();
#else
  struct stat info;
  if (::stat(socket_path.c_str(), &info) != 0 || !S_ISSOCK(info.st_mode)) {
    return absl::NotFoundError("no plasma socket at " + socket_path);
  }
  return absl::OkStatus();
#endif
}

PlasmaWatch::PlasmaWatch(boost::asio::io_context& io, std::string socket_path,
                         std::function<void(const std::string&)> on_died, int retry_ms)
    : socket_path_(std::move(socket_path)),
      on_died_(std::move(on_died)),
      retry_ms_(retry_ms),
      stream_(io),
      retry_(io) {}

PlasmaWatch::~PlasmaWatch() {
  on_died_ = nullptr;
  boost::system::error_code ignored;
  retry_.cancel();
  stream_.close(ignored);
}

void PlasmaWatch::Start() {
#ifdef LUMEN_RAYLET_WITH_PLASMA_CLIENT
  TryConnect();
#endif
}

void PlasmaWatch::TryConnect() {
#ifdef LUMEN_RAYLET_WITH_PLASMA_CLIENT
  absl::StatusOr<int> fd = plasma::ConnectAsNodeOwner(socket_path_);
  if (fd.ok()) {
    stream_.assign(*fd);
    LOG(INFO) << "watching the object store at " << socket_path_;
    WaitForClose();
    return;
  }
  if (!warned_) {
    warned_ = true;
    LOG(WARNING) << "object store at " << socket_path_ << " not reachable yet (" << fd.status()
                 << "); retrying every " << retry_ms_ << " ms";
  }
  retry_.expires_after(std::chrono::milliseconds(retry_ms_));
  retry_.async_wait([this](const boost::system::error_code& error) {
    if (!error) TryConnect();
  });
#endif
}

void PlasmaWatch::WaitForClose() {
  stream_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [this](const boost::system::error_code& error) {
                       if (error == boost::asio::error::operation_aborted || !on_died_) return;
                       char buffer[4096];
                       const ssize_t n =
                           ::recv(stream_.native_handle(), buffer, sizeof(buffer), MSG_DONTWAIT);
                       const bool again = n < 0 && (errno == EAGAIN || errno == EINTR);
                       if (!error && (again || (n > 0 && HandleInput(buffer, static_cast<size_t>(n))))) {
                         WaitForClose();
                         return;
                       }
                       boost::system::error_code ignored;
                       stream_.close(ignored);
                       auto on_died = std::move(on_died_);
                       on_died_ = nullptr;
                       on_died("the object store (lumen-plasma at " + socket_path_ + ") died");
                     });
}

bool PlasmaWatch::HandleInput(const char* data, size_t size) {
#ifdef LUMEN_RAYLET_WITH_PLASMA_CLIENT
  input_.append(data, size);
  size_t begin = 0;
  while (input_.size() - begin >= plasma::kFrameHeaderSize) {
    uint32_t header[2];
    std::memcpy(header, input_.data() + begin, sizeof(header));
    if (header[0] > plasma::kMaxBodySize) return false;
    if (input_.size() - begin < plasma::kFrameHeaderSize + header[0]) break;
    plasma::ObjectsRequest order;
    const char* body = input_.data() + begin + plasma::kFrameHeaderSize;
    const int type = static_cast<int>(header[1]);
    begin += plasma::kFrameHeaderSize + header[0];
    if (type == plasma::STATUS_REPLY) continue;  // The answer to OWNER_REQUEST.
    if (!order.ParseFromArray(body, static_cast<int>(header[0]))) return false;
    std::vector<ObjectId> ids;
    for (const std::string& binary : order.ids()) {
      if (auto id = ObjectId::FromBinary(binary); id.ok()) ids.push_back(*id);
    }
    if (on_order_) on_order_(type, ids);
  }
  input_.erase(0, begin);
#endif
  return true;
}

}  // namespace lumen::raylet
