#include "raylet/object_manager.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/logging.h"
#include "plasma/client.h"

namespace lumen::raylet {

namespace {

constexpr size_t kHeaderSize = 16;  // uint64 data size, uint64 metadata size.

absl::Status WriteFully(int fd, const uint8_t* data, uint64_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, std::min<uint64_t>(size, 64u << 20));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return absl::ResourceExhaustedError(std::strerror(n < 0 ? errno : ENOSPC));
    data += n;
    size -= static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

absl::Status ReadFully(int fd, uint8_t* data, uint64_t size) {
  while (size > 0) {
    const ssize_t n = ::read(fd, data, std::min<uint64_t>(size, 64u << 20));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return absl::DataLossError(std::strerror(errno));
    if (n == 0) return absl::DataLossError("the spill file is truncated");
    data += n;
    size -= static_cast<uint64_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

ObjectManager::ObjectManager(ObjectManagerOptions options) : options_(std::move(options)) {
  spills_.thread = std::thread([this] { Run(spills_); });
  restores_.thread = std::thread([this] { Run(restores_); });
}

ObjectManager::~ObjectManager() {
  for (Queue* queue : {&spills_, &restores_}) {
    std::lock_guard<std::mutex> lock(queue->mu);
    stopping_ = true;
    queue->cv.notify_all();
  }
  spills_.thread.join();
  restores_.thread.join();
}

std::string ObjectManager::SpillPath(const ObjectId& id) const {
  return options_.spill_dir + "/" + id.Hex();
}

void ObjectManager::HandleOrder(Order order, const std::vector<ObjectId>& ids) {
  Queue& queue = order == Order::kRestore ? restores_ : spills_;
  std::lock_guard<std::mutex> lock(queue.mu);
  for (const ObjectId& id : ids) queue.items.emplace_back(order, id);
  queue.cv.notify_one();
}

void ObjectManager::HandleStoreFrame(int type, const std::vector<ObjectId>& ids) {
  if (type == plasma::SPILL_ORDER) HandleOrder(Order::kSpill, ids);
  if (type == plasma::RESTORE_ORDER) HandleOrder(Order::kRestore, ids);
  if (type == plasma::SPILL_FREED) HandleOrder(Order::kFreed, ids);
}

void ObjectManager::Run(Queue& queue) {
  std::unique_ptr<plasma::PlasmaClient> client;
  for (;;) {
    std::pair<Order, ObjectId> item;
    {
      std::unique_lock<std::mutex> lock(queue.mu);
      queue.cv.wait(lock, [&] { return stopping_ || !queue.items.empty(); });
      if (stopping_) return;
      item = queue.items.front();
      queue.items.pop_front();
    }
    const auto& [order, id] = item;
    if (order == Order::kFreed) {
      if (::unlink(SpillPath(id).c_str()) != 0 && errno != ENOENT) {
        LOG(WARNING) << "cannot remove spill file " << SpillPath(id) << ": " << std::strerror(errno);
      }
      continue;
    }
    if (!client) {
      auto connected = plasma::PlasmaClient::Connect(options_.plasma_socket);
      if (!connected.ok()) {
        LOG(WARNING) << "object manager cannot reach the object store: " << connected.status();
        continue;
      }
      client = std::move(*connected);
    }
    if (order == Order::kSpill) Spill(*client, id);
    if (order == Order::kRestore) Restore(*client, id);
  }
}

void ObjectManager::Spill(plasma::PlasmaClient& client, const ObjectId& id) {
  auto got = client.Get({id}, 0);
  if (!got.ok() || !(*got)[0]) {  // Deleted meanwhile: the store forgot the order with it.
    (void)client.ReportSpill(id, "");
    return;
  }
  const plasma::ObjectBuffer& buffer = *(*got)[0];
  absl::Status written = WriteSpillFile(id, buffer.data, buffer.data_size, buffer.metadata, buffer.metadata_size);
  (void)client.Release(id);
  (void)client.FlushReleases();
  if (!written.ok()) {
    ::unlink(SpillPath(id).c_str());
    std::string error = absl::StrCat("cannot write ", buffer.data_size + buffer.metadata_size, " bytes to ",
                                     options_.spill_dir, ": ", written.message());
    (void)client.ReportSpill(id, error);
    return;
  }
  absl::Status kept = client.ReportSpill(id, "");
  if (!kept.ok()) ::unlink(SpillPath(id).c_str());  // Still in memory, or gone.
}

absl::Status ObjectManager::WriteSpillFile(const ObjectId& id, const uint8_t* data, uint64_t data_size,
                                           const uint8_t* metadata, uint64_t metadata_size) {
  if (::mkdir(options_.spill_dir.c_str(), 0700) != 0 && errno != EEXIST) {
    return absl::UnavailableError(absl::StrCat("cannot create ", options_.spill_dir, ": ", std::strerror(errno)));
  }
  const int fd = ::open(SpillPath(id).c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::UnavailableError(std::strerror(errno));
  uint64_t header[2] = {data_size, metadata_size};
  absl::Status status = WriteFully(fd, reinterpret_cast<const uint8_t*>(header), kHeaderSize);
  if (status.ok()) status = WriteFully(fd, data, data_size);
  if (status.ok()) status = WriteFully(fd, metadata, metadata_size);
  if (::close(fd) != 0 && status.ok()) status = absl::ResourceExhaustedError(std::strerror(errno));
  return status;
}

void ObjectManager::Restore(plasma::PlasmaClient& client, const ObjectId& id) {
  const std::string path = SpillPath(id);
  // Opened first: the store orders the file removed once the restore Create
  // succeeds, and an open file survives that.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    LOG(WARNING) << "cannot restore object " << id.Hex() << ": " << path << ": " << std::strerror(errno);
    return;
  }
  uint64_t header[2];
  absl::Status status = ReadFully(fd, reinterpret_cast<uint8_t*>(header), kHeaderSize);
  if (status.ok()) {
    auto buffer = client.CreateForRestore(id, header[0], header[1]);
    if (!buffer.ok()) {
      status = buffer.status();
    } else {
      status = ReadFully(fd, buffer->data, header[0] + header[1]);  // Metadata follows the data.
      status = status.ok() ? client.Seal(id) : client.Abort(id);
    }
  }
  ::close(fd);
  if (!status.ok() && !absl::IsNotFound(status)) {
    LOG(WARNING) << "cannot restore object " << id.Hex() << " from " << path << ": " << status;
  }
  // The file goes with the SPILL_FREED the store sent at the restore Create,
  // on the spill thread, so it is never confused with a later spill's file.
}

void ObjectManager::FillStats(rpc::GetNodeStatsReply* reply) {
  if (!stats_client_) {
    auto connected = plasma::PlasmaClient::Connect(options_.plasma_socket);
    if (!connected.ok()) return;
    stats_client_ = std::move(*connected);
  }
  auto stats = stats_client_->Stats();
  if (!stats.ok()) {
    stats_client_.reset();
    return;
  }
  reply->set_has_object_store(true);
  reply->set_object_store_capacity(stats->capacity());
  reply->set_object_store_used(stats->in_use());
  reply->set_object_store_objects(stats->object_count());
  reply->set_spilled_bytes(stats->spilled_bytes());
  reply->set_spilled_objects(stats->spilled_objects());
  reply->set_spill_dir(options_.spill_dir);
  reply->set_spill_error(stats->spill_error());
}

}  // namespace lumen::raylet
