#include "raylet/plasma_check.h"

#include <sys/socket.h>
#include <sys/stat.h>

#include <cerrno>

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
                       if (!error && (n > 0 || (n < 0 && (errno == EAGAIN || errno == EINTR)))) {
                         WaitForClose();  // Nothing is expected here; keep watching.
                         return;
                       }
                       boost::system::error_code ignored;
                       stream_.close(ignored);
                       auto on_died = std::move(on_died_);
                       on_died_ = nullptr;
                       on_died("the object store (lumen-plasma at " + socket_path_ + ") died");
                     });
}

}  // namespace lumen::raylet
