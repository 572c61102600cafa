#include "raylet/object_transfer.h"

#include <algorithm>
#include <chrono>
#include <cstring>

#include "common/logging.h"
#include "plasma/client.h"

namespace lumen::raylet {
namespace {

std::string NodeHex(const std::string& binary) {
  auto id = NodeId::FromBinary(binary);
  return id.ok() ? id->Hex() : "<invalid node id>";
}

}  // namespace

ObjectSender::ObjectSender(std::string plasma_socket) : plasma_socket_(std::move(plasma_socket)) {}
ObjectSender::~ObjectSender() = default;

absl::Status ObjectSender::Read(const rpc::ReadObjectChunkRequest& request,
                                rpc::ReadObjectChunkReply* reply) {
  auto id = ObjectId::FromBinary(request.object_id());
  if (!id.ok()) return absl::InvalidArgumentError("ReadObjectChunk: invalid object id");
  if (request.length() > kMaxChunkBytes) {
    return absl::InvalidArgumentError("ReadObjectChunk: a chunk is at most 8 MiB, not " +
                                      std::to_string(request.length()) + " bytes");
  }
  std::shared_ptr<plasma::PlasmaClient> plasma;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!plasma_) {
      auto connected = plasma::PlasmaClient::Connect(plasma_socket_);
      if (!connected.ok()) return connected.status();
      plasma_ = std::move(*connected);
    }
    plasma = plasma_;
  }
  auto got = plasma->Get({*id}, 0);
  // Not in memory: spilled (the Get orders a restore) or not here at all.
  if (got.ok() && !(*got)[0]) got = plasma->Get({*id}, kRestoreWaitMs);
  if (!got.ok()) return got.status();
  if (!(*got)[0]) return absl::NotFoundError("object " + id->Hex() + " is not in this node's store");
  const plasma::ObjectBuffer& b = *(*got)[0];
  absl::Status status;
  if (request.offset() > b.data_size) {
    status = absl::OutOfRangeError("ReadObjectChunk: offset past the object's end");
  } else {
    const uint64_t n = std::min<uint64_t>(request.length(), b.data_size - request.offset());
    reply->set_data_size(b.data_size);
    reply->mutable_data()->assign(reinterpret_cast<const char*>(b.data) + request.offset(), n);
    if (request.offset() == 0) {
      reply->mutable_metadata()->assign(reinterpret_cast<const char*>(b.metadata), b.metadata_size);
    }
  }
  (void)plasma->Release(*id);
  return status;
}

uint64_t ObjectPuller::DefaultBudget(const std::string& plasma_socket) {
  constexpr uint64_t kFallback = uint64_t{1} << 30;
  auto client = plasma::PlasmaClient::Connect(plasma_socket);
  if (!client.ok()) return kFallback;
  auto stats = (*client)->Stats();
  return stats.ok() && stats->capacity() > 0 ? stats->capacity() / 2 : kFallback;
}

ObjectPuller::ObjectPuller(EventLoop& loop, ObjectPullerOptions options, Resolve resolve)
    : loop_(loop),
      options_(std::move(options)),
      resolve_(std::move(resolve)),
      book_(options_.budget_bytes ? options_.budget_bytes : DefaultBudget(options_.plasma_socket)) {
  for (int i = 0; i < std::max(1, options_.threads); ++i) threads_.emplace_back([this] { RunThread(); });
}

ObjectPuller::~ObjectPuller() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    jobs_.clear();
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

void ObjectPuller::Pull(const rpc::PullObjectRequest& request, Done done) {
  auto id = ObjectId::FromBinary(request.object_id());
  if (!id.ok()) {
    done(absl::InvalidArgumentError("PullObject: invalid object id"));
    return;
  }
  if (!book_.AddWaiter(*id, std::move(done))) return;  // Shares the pull under way.
  Job job{*id, {}, {}};
  for (const std::string& node : request.node_ids()) {
    if (node == options_.local_node_id) continue;  // Not here (the caller looked).
    std::optional<rpc::Address> raylet = resolve_(node);
    if (!raylet) {
      job.errors.push_back("node " + NodeHex(node) + " is dead or unknown");
      continue;
    }
    std::string address = raylet->ip() + ":" + std::to_string(raylet->port());
    job.sources.push_back({"node " + NodeHex(node) + " at " + address, address});
  }
  if (job.sources.empty()) {
    std::string why = job.errors.empty() ? "no other node holds it" : job.errors[0];
    for (size_t i = 1; i < job.errors.size(); ++i) why += "; " + job.errors[i];
    Finish(*id, absl::UnavailableError("cannot pull object " + id->Hex() + ": " + why), 0);
    return;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    jobs_.push_back(std::move(job));
  }
  cv_.notify_all();
}

void ObjectPuller::FillStats(rpc::GetNodeStatsReply* reply) const {
  reply->set_objects_pulled(objects_pulled_);
  reply->set_bytes_pulled(bytes_pulled_);
}

void ObjectPuller::RunThread() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    absl::Status status;
    uint64_t bytes = 0;
    const auto start = std::chrono::steady_clock::now();
    for (const Source& source : job.sources) {
      absl::StatusOr<uint64_t> pulled = PullFrom(job.id, source);
      status = pulled.status();
      if (status.ok()) {
        bytes = *pulled;
        break;
      }
      job.errors.push_back(source.name + ": " + std::string(status.message()));
    }
    if (!status.ok()) {
      std::string why = job.errors[0];
      for (size_t i = 1; i < job.errors.size(); ++i) why += "; " + job.errors[i];
      status = absl::UnavailableError("cannot pull object " + job.id.Hex() + ": " + why);
      LOG(WARNING) << status.message();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      admitted_.erase(job.id);
      if (stopping_) return;
    }
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (status.ok()) LOG(INFO) << "pulled object " << job.id.Hex() << " (" << bytes << " bytes) in " << seconds << " s";
    loop_.Post([this, id = job.id, status, bytes] { Finish(id, status, bytes); });
  }
}

absl::StatusOr<uint64_t> ObjectPuller::PullFrom(const ObjectId& id, const Source& source) {
  RayletClient& client = ClientFor(source.address, 0);
  rpc::ReadObjectChunkRequest probe;
  probe.set_object_id(id.Binary());
  probe.set_offset(0);
  probe.set_length(options_.chunk_bytes);
  auto first = client.CallSync(&rpc::RayletService::Stub::ReadObjectChunk, probe, options_.call_timeout_ms);
  if (!first.ok()) return first.status();
  WaitAdmission(id, first->data_size() + first->metadata().size());
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopping_) return absl::CancelledError("the raylet is stopping");
  }
  const uint64_t size = first->data_size();
  absl::Status copied = Copy(source, id, *first);
  if (!copied.ok()) return copied;
  return size;
}

void ObjectPuller::WaitAdmission(const ObjectId& id, uint64_t size) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (admitted_[id]) return;  // Admitted for an earlier source.
  }
  loop_.Post([this, id, size] {
    if (!book_.RequestAdmission(id, size)) return;  // Queued: a Finish admits it.
    std::lock_guard<std::mutex> lock(mu_);
    admitted_[id] = true;
    cv_.notify_all();
  });
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait(lock, [&] { return stopping_ || admitted_[id]; });
}

absl::Status ObjectPuller::Copy(const Source& source, const ObjectId& id, rpc::ReadObjectChunkReply& first) {
  const uint64_t size = first.data_size();
  if (first.data().size() != std::min<uint64_t>(size, options_.chunk_bytes)) {
    return absl::DataLossError("the first chunk has " + std::to_string(first.data().size()) + " bytes");
  }
  std::shared_ptr<plasma::PlasmaClient> plasma = Plasma();
  if (!plasma) return absl::UnavailableError("cannot connect to the local object store");
  auto created = plasma->Create(id, size, first.metadata().size());
  if (absl::IsAlreadyExists(created.status())) return absl::OkStatus();  // Here meanwhile.
  if (!created.ok()) return created.status();
  plasma::MutableBuffer buffer = *created;
  std::memcpy(buffer.metadata, first.metadata().data(), first.metadata().size());
  std::memcpy(buffer.data, first.data().data(), first.data().size());
  const uint64_t chunk = options_.chunk_bytes;
  const uint64_t num_chunks = (size + chunk - 1) / chunk;
  std::mutex error_mu;
  absl::Status error;
  auto stream = [&](uint64_t start) {
    RayletClient& client = ClientFor(source.address, static_cast<int>(start - 1));
    for (uint64_t c = start; c < num_chunks; c += options_.streams) {
      rpc::ReadObjectChunkRequest request;
      request.set_object_id(id.Binary());
      request.set_offset(c * chunk);
      request.set_length(std::min(chunk, size - c * chunk));
      auto reply = client.CallSync(&rpc::RayletService::Stub::ReadObjectChunk, request,
                                   options_.call_timeout_ms);
      absl::Status st = reply.ok() && reply->data().size() != request.length()
                            ? absl::DataLossError("a chunk came back short")
                            : reply.status();
      if (!st.ok()) {
        std::lock_guard<std::mutex> lock(error_mu);
        if (error.ok()) error = st;
        return;
      }
      std::memcpy(buffer.data + request.offset(), reply->data().data(), request.length());
    }
  };
  std::vector<std::thread> streams;
  for (int s = 1; s < options_.streams; ++s) streams.emplace_back(stream, 1 + s);
  stream(1);
  for (std::thread& t : streams) t.join();
  if (!error.ok()) {
    (void)plasma->Abort(id);
    return error;
  }
  return plasma->Seal(id);
}

void ObjectPuller::Finish(const ObjectId& id, const absl::Status& status, uint64_t bytes) {
  if (status.ok()) {
    ++objects_pulled_;
    bytes_pulled_ += bytes;
  }
  PullBook::Finished finished = book_.Finish(id);
  if (!finished.admitted.empty()) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const ObjectId& next : finished.admitted) admitted_[next] = true;
    cv_.notify_all();
  }
  for (auto& waiter : finished.waiters) waiter(status);
}

ObjectPuller::RayletClient& ObjectPuller::ClientFor(const std::string& address, int lane) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& client = clients_[address + "#" + std::to_string(lane)];
  if (!client) client = std::make_unique<RayletClient>(address, options_.token);
  return *client;
}

std::shared_ptr<plasma::PlasmaClient> ObjectPuller::Plasma() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!plasma_) {
    auto connected = plasma::PlasmaClient::Connect(options_.plasma_socket);
    if (!connected.ok()) return nullptr;
    plasma_ = std::move(*connected);
  }
  return plasma_;
}

}  // namespace lumen::raylet
