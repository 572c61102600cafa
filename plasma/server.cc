#include "plasma/server.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "glog/logging.h"

namespace lumen::plasma {

namespace local = boost::asio::local;

absl::Status PrepareSocketDirectory(const std::string& socket_path) {
  const std::filesystem::path dir = std::filesystem::path(socket_path).parent_path();
  if (dir.empty()) return absl::InvalidArgumentError("socket path needs a directory: " + socket_path);
  struct stat info;
  if (::stat(dir.c_str(), &info) != 0) {
    std::error_code error;
    std::filesystem::create_directories(dir.parent_path(), error);
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
      return absl::PermissionDeniedError(absl::StrCat("cannot create ", dir.string(), ": ", std::strerror(errno)));
    }
    if (::stat(dir.c_str(), &info) != 0) return absl::InternalError("cannot stat " + dir.string());
  }
  if (!S_ISDIR(info.st_mode)) return absl::FailedPreconditionError(dir.string() + " is not a directory");
  if (info.st_uid != ::geteuid() || (info.st_mode & 077) != 0) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "socket directory %s is accessible by other users (mode %04o, owner %d); it must be owned by "
        "us with mode 0700",
        dir.string(), info.st_mode & 07777, info.st_uid));
  }
  return absl::OkStatus();
}

PlasmaServer::PlasmaServer(boost::asio::io_context& io, PlasmaStore& store, int arena_fd, uint64_t arena_size,
                           int index_fd, uint64_t index_size)
    : io_(io), store_(store), arena_fd_(arena_fd), arena_size_(arena_size), index_fd_(index_fd),
      index_size_(index_size), acceptor_(io) {
  store_.SetNotificationListener([this](const Notification& note) { Notify(note); });
}

PlasmaServer::~PlasmaServer() {
  Stop();
  store_.SetNotificationListener(nullptr);
}

absl::Status PlasmaServer::Listen(const std::string& socket_path) {
  local::stream_protocol::endpoint endpoint(socket_path);
  if (std::filesystem::exists(socket_path)) {
    local::stream_protocol::socket probe(io_);
    boost::system::error_code error;
    probe.connect(endpoint, error);
    if (!error) return absl::AlreadyExistsError("another store is listening on " + socket_path);
    ::unlink(socket_path.c_str());
  }
  boost::system::error_code error;
  acceptor_.open(endpoint.protocol(), error);
  if (!error) acceptor_.bind(endpoint, error);
  if (!error) acceptor_.listen(boost::asio::socket_base::max_listen_connections, error);
  if (error) return absl::UnavailableError(absl::StrCat("cannot listen on ", socket_path, ": ", error.message()));
  ::chmod(socket_path.c_str(), 0600);
  socket_path_ = socket_path;
  Accept();
  return absl::OkStatus();
}

void PlasmaServer::Stop() {
  if (!acceptor_.is_open() && connections_.empty()) return;
  on_owner_lost_ = nullptr;  // Stopping closes the owner's connection too.
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  auto connections = std::move(connections_);
  for (auto& [id, connection] : connections) connection->Close("");
  get_timers_.clear();
  if (!socket_path_.empty()) ::unlink(socket_path_.c_str());
  socket_path_.clear();
}

void PlasmaServer::Accept() {
  acceptor_.async_accept([this](const boost::system::error_code& error, local::stream_protocol::socket socket) {
    if (error == boost::asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (!error) {
      auto connection = std::make_shared<Connection>(std::move(socket), next_client_id_++, *this);
      connections_.emplace(connection->id(), connection);
      Greet(connection);
    } else {
      LOG(WARNING) << "accept failed: " << error.message();
    }
    Accept();
  });
}

// Sends the arena (and the index with this client's slot, if there is one).
void PlasmaServer::Greet(const std::shared_ptr<Connection>& connection) {
  ConnectReply hello;
  hello.set_arena_size(arena_size_);
  std::vector<int> fds = {arena_fd_};
  if (index_fd_ >= 0) {
    hello.set_index_size(index_size_);
    hello.set_index_slot(store_.RegisterClient(connection->id()));
    fds.push_back(index_fd_);
  }
  std::string greeting;
  AppendFrame(CONNECT_REPLY, hello, &greeting);
  connection->Start(greeting, fds);
}

void PlasmaServer::HandleClosed(Connection& connection) {
  if (owner_ != 0 && connection.id() == owner_) {
    owner_ = 0;
    store_.SetSpillHooks({});
    // Moved out first: the callback may Stop() the server, which clears it.
    auto on_owner_lost = std::move(on_owner_lost_);
    on_owner_lost_ = nullptr;
    if (on_owner_lost) on_owner_lost();
  }
  subscribers_.erase(connection.id());
  store_.DisconnectClient(connection.id());
  connections_.erase(connection.id());
}

absl::Status PlasmaServer::HandleFrame(Connection& connection, const Frame& frame) {
  switch (frame.type) {
    case CREATE_REQUEST: {
      CreateRequest request;
      if (!ParseBody(frame, &request)) return absl::InvalidArgumentError("malformed CreateRequest");
      connection.Send(CREATE_REPLY, store_.Create(connection.id(), request));
      return absl::OkStatus();
    }
    case GET_REQUEST: {
      GetRequest request;
      if (!ParseBody(frame, &request)) return absl::InvalidArgumentError("malformed GetRequest");
      HandleGet(connection, request);
      return absl::OkStatus();
    }
    case SEAL_REQUEST:
    case ABORT_REQUEST:
    case CONTAINS_REQUEST:
      return HandleObjectRequest(connection, frame);
    case RELEASE_REQUEST:
    case PUT_NOTICE:
    case UNHOLD_NOTICE:
    case DELETE_REQUEST:
    case PIN_REQUEST:
      return HandleObjectsRequest(connection, frame);
    case PING_REQUEST:
      connection.Send(STATUS_REPLY, StatusReply());
      return absl::OkStatus();
    case SLAB_REQUEST:
      connection.Send(CREATE_REPLY, store_.GrantSlab(connection.id()));
      return absl::OkStatus();
    case OWNER_REQUEST:
      if (owner_ != 0 && owner_ != connection.id()) {
        return absl::FailedPreconditionError("the store already has an owner (the node's raylet)");
      }
      owner_ = connection.id();
      store_.SetSpillHooks(OwnerHooks(connection.weak_from_this()));
      LOG(INFO) << "the node's raylet holds connection " << owner_
                << ": the store stops when it closes";
      connection.Send(STATUS_REPLY, StatusReply());
      return absl::OkStatus();
    case IDENTIFY: {
      IdentifyRequest request;
      if (!ParseBody(frame, &request)) return absl::InvalidArgumentError("malformed IdentifyRequest");
      store_.Identify(connection.id(), request.owner());
      return absl::OkStatus();
    }
    case STATS_REQUEST:
      connection.Send(STATS_REPLY, store_.Stats());
      return absl::OkStatus();
    case SPILL_RESULT: {
      SpillResult request;
      if (!ParseBody(frame, &request)) return absl::InvalidArgumentError("malformed SpillResult");
      connection.Send(STATUS_REPLY, store_.SpillDone(request));
      return absl::OkStatus();
    }
    case SUBSCRIBE_REQUEST:
      subscribers_.emplace(connection.id(), connection.weak_from_this());
      connection.Send(STATUS_REPLY, StatusReply());
      return absl::OkStatus();
    default:
      return absl::InvalidArgumentError(absl::StrCat("unexpected message type ", frame.type));
  }
}

absl::Status PlasmaServer::HandleObjectRequest(Connection& connection, const Frame& frame) {
  ObjectRequest request;
  if (!ParseBody(frame, &request)) return absl::InvalidArgumentError("malformed ObjectRequest");
  auto id = ObjectId::FromBinary(request.id());
  if (!id.ok()) {
    if (frame.type == CONTAINS_REQUEST) return absl::InvalidArgumentError("contains of a bad id");
    connection.Send(STATUS_REPLY, ErrorReply<StatusReply>(INVALID_REQUEST, std::string(id.status().message())));
    return absl::OkStatus();
  }
  const uint64_t client = connection.id();
  if (frame.type == SEAL_REQUEST) connection.Send(STATUS_REPLY, store_.Seal(client, *id));
  if (frame.type == ABORT_REQUEST) connection.Send(STATUS_REPLY, store_.Abort(client, *id));
  if (frame.type == CONTAINS_REQUEST) {
    ContainsReply reply;
    reply.set_has_object(store_.Contains(*id));
    connection.Send(CONTAINS_REPLY, reply);
  }
  return absl::OkStatus();
}

absl::Status PlasmaServer::HandleObjectsRequest(Connection& connection, const Frame& frame) {
  ObjectsRequest request;
  if (!ParseBody(frame, &request)) return absl::InvalidArgumentError("malformed ObjectsRequest");
  std::vector<ObjectId> ids;
  ids.reserve(request.ids_size());
  for (const std::string& binary : request.ids()) {
    auto id = ObjectId::FromBinary(binary);
    const bool one_way = frame.type == RELEASE_REQUEST || frame.type == PUT_NOTICE || frame.type == UNHOLD_NOTICE;
    if (!id.ok() && one_way) return absl::InvalidArgumentError("one-way message with a bad id");
    if (!id.ok()) {
      connection.Send(STATUS_REPLY, ErrorReply<StatusReply>(INVALID_REQUEST, std::string(id.status().message())));
      return absl::OkStatus();
    }
    ids.push_back(*id);
  }
  if (frame.type == RELEASE_REQUEST) {
    for (const ObjectId& id : ids) store_.Release(connection.id(), id);
  }
  if (frame.type == PUT_NOTICE) store_.PutNotice(connection.id(), ids);
  if (frame.type == UNHOLD_NOTICE) store_.UnholdNotice(ids);
  if (frame.type == DELETE_REQUEST) connection.Send(STATUS_REPLY, store_.Delete(ids));
  if (frame.type == PIN_REQUEST) connection.Send(STATUS_REPLY, store_.Pin(ids, request.pin()));
  return absl::OkStatus();
}

void PlasmaServer::HandleGet(Connection& connection, const GetRequest& request) {
  std::vector<ObjectId> ids;
  ids.reserve(request.ids_size());
  for (const std::string& binary : request.ids()) {
    auto id = ObjectId::FromBinary(binary);
    if (!id.ok()) {
      connection.Send(GET_REPLY, ErrorReply<GetReply>(INVALID_REQUEST, std::string(id.status().message())));
      return;
    }
    ids.push_back(*id);
  }
  // The callback may run before Get returns (nothing to wait for), when the
  // objects are sealed, or at the timeout; it drops the timer if any.
  auto request_id = std::make_shared<uint64_t>(0);
  auto callback = [this, weak = connection.weak_from_this(), request_id](const GetReply& reply) {
    if (*request_id != 0) get_timers_.erase(*request_id);
    if (auto connection = weak.lock()) connection->Send(GET_REPLY, reply);
  };
  *request_id = store_.Get(connection.id(), ids, request.timeout_ms() != 0, std::move(callback));
  if (*request_id == 0 || request.timeout_ms() < 0) return;
  auto timer = std::make_unique<boost::asio::steady_timer>(io_, std::chrono::milliseconds(request.timeout_ms()));
  timer->async_wait([this, id = *request_id](const boost::system::error_code& error) {
    if (error) return;  // Cancelled: the Get completed first.
    get_timers_.erase(id);
    store_.ExpireGet(id);
  });
  get_timers_.emplace(*request_id, std::move(timer));
}

// Orders to the raylet travel as one-way frames on its owner connection.
SpillHooks PlasmaServer::OwnerHooks(std::weak_ptr<Connection> owner) {
  auto send = [owner](MessageType type) {
    return [owner, type](const std::vector<ObjectId>& ids) {
      auto connection = owner.lock();
      if (!connection) return;
      ObjectsRequest order;
      for (const ObjectId& id : ids) order.add_ids(id.data(), ObjectId::kSize);
      connection->Send(type, order);
    };
  };
  return SpillHooks{send(SPILL_ORDER), send(RESTORE_ORDER), send(SPILL_FREED)};
}

void PlasmaServer::Notify(const Notification& note) {
  for (auto& [id, weak] : subscribers_) {
    if (auto subscriber = weak.lock()) subscriber->Send(NOTIFICATION, note);  // Never closes inline.
  }
}

}  // namespace lumen::plasma
