#include "raylet/object_transfer.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <future>

#include "common/logging.h"
#include "plasma/client.h"
#include "raylet/object_data.h"

namespace lumen::raylet {
namespace {

std::string NodeHex(const std::string& binary) {
  auto id = NodeId::FromBinary(binary);
  return id.ok() ? id->Hex() : "<invalid node id>";
}

}  // namespace

ObjectPuller::Source ObjectPuller::MakeSource(const std::string& node_id, const rpc::Address& raylet) {
  std::string address = raylet.ip() + ":" + std::to_string(raylet.port());
  return {"node " + NodeHex(node_id) + " at " + address, address, raylet.ip(), node_id};
}

ObjectSender::ObjectSender(std::string plasma_socket, ObjectDataServer* data, TransferCounters* counters)
    : plasma_(std::move(plasma_socket)), data_(data), counters_(counters ? counters : &unread_counters_) {}
ObjectSender::~ObjectSender() = default;

absl::Status ObjectSender::Read(const rpc::ReadObjectChunkRequest& request,
                                rpc::ReadObjectChunkReply* reply) {
  auto id = ObjectId::FromBinary(request.object_id());
  if (!id.ok()) return absl::InvalidArgumentError("ReadObjectChunk: invalid object id");
  if (request.length() > kMaxChunkBytes) {
    return absl::InvalidArgumentError("ReadObjectChunk: a chunk is at most 8 MiB, not " +
                                      std::to_string(request.length()) + " bytes");
  }
  auto connected = plasma_.Get();
  if (!connected.ok()) return connected.status();
  std::shared_ptr<plasma::PlasmaClient> plasma = *std::move(connected);
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
    if (data_) {
      reply->set_data_port(data_->port());
      reply->set_sends_in_flight(data_->sends_in_flight());
      for (const std::string& node : data_->CopiesOf(*id)) {
        if (node != request.requester_node_id()) reply->add_other_copies(node);
      }
    }
    reply->mutable_data()->assign(reinterpret_cast<const char*>(b.data) + request.offset(), n);
    counters_->bytes_sent.fetch_add(n, std::memory_order_relaxed);
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
      book_(options_.budget_bytes ? options_.budget_bytes : DefaultBudget(options_.plasma_socket)),
      counters_(options_.counters ? options_.counters : &unread_counters_),
      plasma_(options_.plasma_socket) {
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
  counters_->pulls_in_flight.fetch_add(1, std::memory_order_relaxed);  // Until Finish.
  StartJob(*id, {request.node_ids().begin(), request.node_ids().end()}, 0);
}

void ObjectPuller::StartJob(const ObjectId& id, std::vector<std::string> nodes, int attempt) {
  Job job{id, {}, {}};
  for (const std::string& node : nodes) {
    if (node == options_.local_node_id) continue;  // Not here (the caller looked).
    std::optional<rpc::Address> raylet = resolve_(node);
    if (!raylet) {
      job.errors.push_back("node " + NodeHex(node) + " is dead or unknown");
      continue;
    }
    job.sources.push_back(MakeSource(node, *raylet));
  }
  if (job.sources.empty() && !job.errors.empty() && attempt < kResolveAttempts) {
    // A node that joined a moment ago is not in this raylet's view yet.
    loop_.RunAfter(kResolveRetry, [this, id, nodes = std::move(nodes), attempt]() mutable {
      StartJob(id, std::move(nodes), attempt + 1);
    });
    return;
  }
  if (job.sources.empty()) {
    std::string why = job.errors.empty() ? "no other node holds it" : job.errors[0];
    for (size_t i = 1; i < job.errors.size(); ++i) why += "; " + job.errors[i];
    Finish(id, absl::UnavailableError("cannot pull object " + id.Hex() + ": " + why), 0);
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
    const auto start = std::chrono::steady_clock::now();
    absl::StatusOr<uint64_t> pulled = PullJob(job);
    absl::Status status = pulled.status();
    const uint64_t bytes = pulled.ok() ? *pulled : 0;
    if (!status.ok()) {
      std::string why = job.errors.empty() ? std::string(status.message()) : job.errors[0];
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

absl::StatusOr<uint64_t> ObjectPuller::PullJob(Job& job) {
  size_t next_source = 0;
  std::vector<Candidate> candidates = Candidates(job, &next_source);
  for (size_t i = 0;; ++i) {
    while (i == candidates.size() && next_source < job.sources.size()) {  // Probe the next source.
      const Source& source = job.sources[next_source++];
      auto probe = Probe(job.id, source);
      if (probe.ok()) {
        candidates.push_back({source, *std::move(probe)});
      } else {
        job.errors.push_back(source.name + ": " + std::string(probe.status().message()));
        counters_->source_failures.fetch_add(1, std::memory_order_relaxed);
      }
    }
    if (i == candidates.size()) break;
    const Candidate& from = candidates[i];
    WaitAdmission(job.id, from.probe.data_size() + from.probe.metadata().size());
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stopping_) return absl::CancelledError("the raylet is stopping");
    }
    LOG(INFO) << "pulling object " << job.id.Hex() << " (" << from.probe.data_size() << " bytes) from "
              << from.source.name << (from.probe.data_port() > 0 ? " over its data port" : " in chunks");
    absl::Status copied = Copy(from, job.id);
    if (copied.ok()) return from.probe.data_size();
    job.errors.push_back(from.source.name + ": " + std::string(copied.message()));
    counters_->source_failures.fetch_add(1, std::memory_order_relaxed);
  }
  return absl::UnavailableError("no source left");
}

std::vector<ObjectPuller::Candidate> ObjectPuller::Candidates(Job& job, size_t* next_source) {
  std::vector<Candidate> out;
  while (out.empty() && *next_source < job.sources.size()) {
    const Source& source = job.sources[(*next_source)++];
    auto probe = Probe(job.id, source);
    if (!probe.ok()) {
      job.errors.push_back(source.name + ": " + std::string(probe.status().message()));
      counters_->source_failures.fetch_add(1, std::memory_order_relaxed);
      continue;
    }
    out.push_back({source, *std::move(probe)});
  }
  if (out.empty()) return out;
  const std::vector<std::string> copies(out[0].probe.other_copies().begin(), out[0].probe.other_copies().end());
  for (const std::string& node : copies) {
    if (node == options_.local_node_id) continue;
    bool known = false;
    for (const Source& s : job.sources) known |= s.node_id == node;
    std::optional<Source> source = known ? std::nullopt : SourceOf(node);
    if (!source) continue;
    auto probe = Probe(job.id, *source, options_.copy_probe_timeout_ms);
    if (probe.ok() && probe->data_size() == out[0].probe.data_size()) out.push_back({*source, *std::move(probe)});
  }
  // The least loaded first; among equals a copy before the source it came
  // from (that one is the hot spot of a broadcast).
  std::stable_sort(out.begin() + 1, out.end(), [](const Candidate& a, const Candidate& b) {
    return a.probe.sends_in_flight() < b.probe.sends_in_flight();
  });
  if (out.size() > 1 && out[1].probe.sends_in_flight() <= out[0].probe.sends_in_flight()) {
    std::rotate(out.begin(), out.begin() + 1, out.begin() + 2);
  }
  return out;
}

absl::StatusOr<rpc::ReadObjectChunkReply> ObjectPuller::Probe(const ObjectId& id, const Source& source,
                                                               int64_t timeout_ms) {
  rpc::ReadObjectChunkRequest probe;
  probe.set_object_id(id.Binary());
  probe.set_offset(0);
  probe.set_length(0);
  probe.set_requester_node_id(options_.local_node_id);
  return ClientFor(source.address, 0).CallSync(&rpc::RayletService::Stub::ReadObjectChunk, probe,
                                              timeout_ms < 0 ? options_.call_timeout_ms : timeout_ms);
}

std::optional<ObjectPuller::Source> ObjectPuller::SourceOf(const std::string& node_id) {
  auto promise = std::make_shared<std::promise<std::optional<rpc::Address>>>();
  std::future<std::optional<rpc::Address>> address = promise->get_future();
  loop_.Post([resolve = resolve_, promise, node_id] { promise->set_value(resolve(node_id)); });
  if (address.wait_for(std::chrono::seconds(5)) != std::future_status::ready) return std::nullopt;
  std::optional<rpc::Address> raylet = address.get();
  if (!raylet) return std::nullopt;
  return MakeSource(node_id, *raylet);
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

absl::Status ObjectPuller::Copy(const Candidate& from, const ObjectId& id) {
  const rpc::ReadObjectChunkReply& probe = from.probe;
  const uint64_t size = probe.data_size();
  auto connected = plasma_.Get();
  if (!connected.ok()) return absl::UnavailableError("cannot connect to the local object store");
  std::shared_ptr<plasma::PlasmaClient> plasma = *std::move(connected);
  const auto start = std::chrono::steady_clock::now();
  auto created = plasma->Create(id, size, probe.metadata().size());
  if (absl::IsAlreadyExists(created.status())) return absl::OkStatus();  // Here meanwhile.
  if (!created.ok()) return created.status();
  plasma::MutableBuffer buffer = *created;
  std::memcpy(buffer.metadata, probe.metadata().data(), probe.metadata().size());
  const auto created_at = std::chrono::steady_clock::now();
  absl::Status copied =
      probe.data_port() > 0
          ? ReadObjectRange(from.source.ip, probe.data_port(), options_.token, id, options_.local_node_id, 0, size,
                            buffer.data, static_cast<int>(options_.call_timeout_ms))
          : CopyChunks(from.source, id, size, buffer.data);
  if (!copied.ok()) {
    (void)plasma->Abort(id);
    return copied;
  }
  const auto received = std::chrono::steady_clock::now();
  absl::Status sealed = plasma->Seal(id);
  using Seconds = std::chrono::duration<double>;
  VLOG(1) << "object " << id.Hex() << ": create " << Seconds(created_at - start).count() << " s, receive "
          << Seconds(received - created_at).count() << " s, seal "
          << Seconds(std::chrono::steady_clock::now() - received).count() << " s";
  return sealed;
}

absl::Status ObjectPuller::CopyChunks(const Source& source, const ObjectId& id, uint64_t size, uint8_t* dest) {
  const uint64_t chunk = options_.chunk_bytes;
  const uint64_t num_chunks = (size + chunk - 1) / chunk;
  std::mutex error_mu;
  absl::Status error;
  auto stream = [&](uint64_t start) {
    RayletClient& client = ClientFor(source.address, static_cast<int>(start));
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
      std::memcpy(dest + request.offset(), reply->data().data(), request.length());
    }
  };
  std::vector<std::thread> streams;
  for (int s = 1; s < options_.streams; ++s) streams.emplace_back(stream, s);
  stream(0);
  for (std::thread& t : streams) t.join();
  return error;
}

void ObjectPuller::Finish(const ObjectId& id, const absl::Status& status, uint64_t bytes) {
  if (status.ok()) {
    ++objects_pulled_;
    bytes_pulled_ += bytes;
    counters_->objects_pulled.fetch_add(1, std::memory_order_relaxed);
    counters_->bytes_received.fetch_add(bytes, std::memory_order_relaxed);
  } else {
    counters_->pulls_failed.fetch_add(1, std::memory_order_relaxed);
  }
  counters_->pulls_in_flight.fetch_sub(1, std::memory_order_relaxed);
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

}  // namespace lumen::raylet
