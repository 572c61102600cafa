#include "plasma/client.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <thread>

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "plasma/socket_io.h"

namespace lumen::plasma {

namespace {
constexpr char kErrorCodePayload[] = "lumen.plasma.ErrorCode";
constexpr uint64_t kPopulateChunk = 2u << 20;
constexpr uint64_t kPopulateMin = 1u << 20;  // Smaller creates just fault.
}  // namespace

absl::Status ToStatus(ErrorCode code, const std::string& message) {
  absl::Status status;
  switch (code) {
    case OK: return absl::OkStatus();
    case ALREADY_EXISTS: status = absl::AlreadyExistsError(message); break;
    case NOT_FOUND: status = absl::NotFoundError(message); break;
    case DELETED: status = absl::NotFoundError(message); break;
    case OUT_OF_MEMORY: status = absl::ResourceExhaustedError(message); break;
    case ALREADY_SEALED: status = absl::FailedPreconditionError(message); break;
    case NOT_OWNER: status = absl::PermissionDeniedError(message); break;
    default: status = absl::InvalidArgumentError(message); break;
  }
  status.SetPayload(kErrorCodePayload, absl::Cord(ErrorCode_Name(code)));
  return status;
}

bool IsObjectDeleted(const absl::Status& status) {
  auto payload = status.GetPayload(kErrorCodePayload);
  return payload.has_value() && *payload == ErrorCode_Name(DELETED);
}

absl::StatusOr<std::unique_ptr<PlasmaClient>> PlasmaClient::Connect(const std::string& socket_path) {
  absl::StatusOr<Greeting> greeting = ConnectToStore(socket_path);
  if (!greeting.ok()) return greeting.status();
  void* base = ::mmap(nullptr, greeting->arena_size, PROT_READ | PROT_WRITE, MAP_SHARED, greeting->arena_fd, 0);
  ::close(greeting->arena_fd);  // The mapping keeps the arena alive.
  if (base == MAP_FAILED) {
    ::close(greeting->socket);
    if (greeting->index_fd >= 0) ::close(greeting->index_fd);
    return absl::ResourceExhaustedError(absl::StrCat("cannot map the arena: ", std::strerror(errno)));
  }
  std::unique_ptr<IndexClient> index;
  if (greeting->index_fd >= 0) {
    if (greeting->index_slot != 0) {  // Without a slot we cannot hold or put through the index.
      auto mapped = IndexClient::Map(greeting->index_fd, greeting->index_size, greeting->index_slot,
                                     static_cast<uint8_t*>(base), greeting->arena_size);
      if (mapped.ok()) index = std::move(*mapped);
    }
    ::close(greeting->index_fd);
  }
  return std::unique_ptr<PlasmaClient>(
      new PlasmaClient(greeting->socket, static_cast<uint8_t*>(base), greeting->arena_size, std::move(index)));
}

PlasmaClient::PlasmaClient(int fd, uint8_t* base, uint64_t arena_size, std::unique_ptr<IndexClient> index)
    : fd_(fd), base_(base), arena_size_(arena_size), index_(std::move(index)),
      populated_chunks_((arena_size + kPopulateChunk - 1) / kPopulateChunk, false) {}

PlasmaClient::~PlasmaClient() {
  ::close(fd_);
  ::munmap(base_, arena_size_);
}

absl::Status PlasmaClient::Write(MessageType type, const google::protobuf::MessageLite& request) {
  AppendFrame(type, request, &output_);
  absl::Status written = WriteAll(fd_, output_);
  output_.clear();
  return written;
}

void PlasmaClient::QueueRelease(const Releases& releases) {
  if (!releases.fast.empty()) {
    std::vector<ObjectId> unheld;
    index_->Release(releases.fast, &unheld);
    if (!unheld.empty()) {
      ObjectsRequest notice;
      for (const ObjectId& id : unheld) notice.add_ids(id.data(), ObjectId::kSize);
      AppendFrame(UNHOLD_NOTICE, notice, &output_);
    }
  }
  if (releases.socket.empty()) return;
  ObjectsRequest request;
  for (const ObjectId& id : releases.socket) request.add_ids(id.data(), ObjectId::kSize);
  AppendFrame(RELEASE_REQUEST, request, &output_);
}

absl::Status PlasmaClient::Call(MessageType type, const google::protobuf::MessageLite& request,
                                MessageType reply_type, google::protobuf::MessageLite* reply) {
  if (absl::Status written = Write(type, request); !written.ok()) return written;
  absl::StatusOr<std::optional<Frame>> frame = ReadFrame(fd_, input_);
  if (!frame.ok()) return frame.status();
  if ((*frame)->type != reply_type || !ParseBody(**frame, reply)) {
    return absl::InternalError(absl::StrCat("unexpected reply of type ", (*frame)->type, " from the store"));
  }
  return absl::OkStatus();
}

absl::Status PlasmaClient::SimpleCall(MessageType type, const google::protobuf::MessageLite& request) {
  absl::MutexLock lock(&mu_);
  StatusReply reply;
  if (absl::Status called = Call(type, request, STATUS_REPLY, &reply); !called.ok()) return called;
  return ToStatus(reply.error(), reply.message());
}

absl::StatusOr<MutableBuffer> PlasmaClient::Create(const ObjectId& id, uint64_t data_size, uint64_t metadata_size,
                                                   bool pin, std::string_view owner) {
  CreateRequest request;
  request.set_id(id.data(), ObjectId::kSize);
  request.set_data_size(data_size);
  request.set_metadata_size(metadata_size);
  request.set_pin(pin);
  if (pin) request.set_owner(std::string(owner));
  return CreateWithRequest(request);
}

absl::StatusOr<MutableBuffer> PlasmaClient::CreateForRestore(const ObjectId& id, uint64_t data_size,
                                                             uint64_t metadata_size) {
  CreateRequest request;
  request.set_id(id.data(), ObjectId::kSize);
  request.set_data_size(data_size);
  request.set_metadata_size(metadata_size);
  request.set_pin(true);
  request.set_restore(true);
  return CreateWithRequest(request);
}

absl::StatusOr<MutableBuffer> PlasmaClient::CreateWithRequest(const CreateRequest& request) {
  const uint64_t data_size = request.data_size();
  const uint64_t metadata_size = request.metadata_size();
  CreateReply reply;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kSpillWaitMs);
  for (int wait_ms = 1;; wait_ms = std::min(wait_ms * 2, 50)) {
    {
      absl::MutexLock lock(&mu_);
      if (absl::Status called = Call(CREATE_REQUEST, request, CREATE_REPLY, &reply); !called.ok()) return called;
      if (reply.error() == OK) {
        if (reply.offset() + data_size + metadata_size > arena_size_) {
          return absl::InternalError("offset outside the arena");
        }
        PopulateForWrite(reply.offset(), data_size + metadata_size);
        uint8_t* data = base_ + reply.offset();
        return MutableBuffer{data, data_size, data + data_size, metadata_size};
      }
    }
    // The raylet is writing pinned objects to disk to make room: wait for it
    // (without the lock, so this client's Releases go out meanwhile).
    if (reply.error() != OUT_OF_MEMORY || !reply.spill_pending() || std::chrono::steady_clock::now() > deadline) {
      return ToStatus(reply.error(), reply.message());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(wait_ms));
  }
}

absl::Status PlasmaClient::Identify(std::string_view owner) {
  IdentifyRequest request;
  request.set_owner(std::string(owner));
  absl::MutexLock lock(&mu_);
  return Write(IDENTIFY, request);
}

absl::StatusOr<StatsReply> PlasmaClient::Stats() {
  absl::MutexLock lock(&mu_);
  StatsReply reply;
  if (absl::Status called = Call(STATS_REQUEST, StatusReply(), STATS_REPLY, &reply); !called.ok()) return called;
  return reply;
}

absl::Status PlasmaClient::ReportSpill(const ObjectId& id, const std::string& error) {
  SpillResult request;
  request.set_id(id.data(), ObjectId::kSize);
  request.set_error(error);
  return SimpleCall(SPILL_RESULT, request);
}

// Maps the pages of [offset, offset+size) in one system call the first time
// this client writes there, instead of one page fault per 4 KiB.
void PlasmaClient::PopulateForWrite(uint64_t offset, uint64_t size) {
  if (size < kPopulateMin) return;
  uint64_t first = offset / kPopulateChunk;
  const uint64_t last = (offset + size - 1) / kPopulateChunk;
  while (first <= last) {
    if (populated_chunks_[first]) {
      ++first;
      continue;
    }
    uint64_t end = first;
    while (end + 1 <= last && !populated_chunks_[end + 1]) ++end;
    const uint64_t begin_byte = first * kPopulateChunk;
    const uint64_t end_byte = std::min((end + 1) * kPopulateChunk, arena_size_);
    if (::madvise(base_ + begin_byte, end_byte - begin_byte, MADV_POPULATE_WRITE) != 0) return;
    for (uint64_t chunk = first; chunk <= end; ++chunk) populated_chunks_[chunk] = true;
    first = end + 1;
  }
}

absl::Status PlasmaClient::Seal(const ObjectId& id) {
  ObjectRequest request;
  request.set_id(id.data(), ObjectId::kSize);
  return SimpleCall(SEAL_REQUEST, request);
}

absl::Status PlasmaClient::Abort(const ObjectId& id) {
  ObjectRequest request;
  request.set_id(id.data(), ObjectId::kSize);
  return SimpleCall(ABORT_REQUEST, request);
}

absl::Status PlasmaClient::Put(const ObjectId& id, const void* data, size_t size, const void* metadata,
                               size_t metadata_size, bool pin, std::string_view owner) {
  if (std::optional<absl::Status> put = PutThroughIndex(id, data, size, metadata, metadata_size, pin)) return *put;
  if (size + metadata_size > kInlinePutLimit) {
    absl::StatusOr<MutableBuffer> buffer = Create(id, size, metadata_size, pin, owner);
    if (!buffer.ok()) return buffer.status();
    if (size > 0) std::memcpy(buffer->data, data, size);
    if (metadata_size > 0) std::memcpy(buffer->metadata, metadata, metadata_size);
    return Seal(id);
  }
  CreateRequest request;
  request.set_id(id.data(), ObjectId::kSize);
  request.set_data_size(size);
  request.set_metadata_size(metadata_size);
  request.set_pin(pin);
  if (pin) request.set_owner(std::string(owner));
  request.set_seal(true);
  std::string* inline_data = request.mutable_inline_data();
  inline_data->reserve(size + metadata_size);
  inline_data->append(static_cast<const char*>(data), size);
  if (metadata_size > 0) inline_data->append(static_cast<const char*>(metadata), metadata_size);
  absl::MutexLock lock(&mu_);
  CreateReply reply;
  if (absl::Status called = Call(CREATE_REQUEST, request, CREATE_REPLY, &reply); !called.ok()) return called;
  return ToStatus(reply.error(), reply.message());
}

// Puts a small object into our slab and the index, then tells the store
// with a one-way PutNotice. Asks for a slab when ours is full.
std::optional<absl::Status> PlasmaClient::PutThroughIndex(const ObjectId& id, const void* data, size_t size,
                                                          const void* metadata, size_t metadata_size, bool pin) {
  absl::MutexLock lock(&mu_);
  if (index_ == nullptr || !index_->Fits(size + metadata_size)) return std::nullopt;
  for (int attempt = 0; attempt < 2; ++attempt) {
    switch (index_->Put(id, data, size, metadata, metadata_size, pin)) {
      case IndexClient::PutOutcome::kPut: {
        ObjectsRequest notice;
        notice.add_ids(id.data(), ObjectId::kSize);
        return Write(PUT_NOTICE, notice);
      }
      case IndexClient::PutOutcome::kExists:
        return ToStatus(ALREADY_EXISTS, "object " + id.Hex() + " already exists");
      case IndexClient::PutOutcome::kIndexFull:
        return std::nullopt;  // The store evicts or says why it is full.
      case IndexClient::PutOutcome::kNeedSlab: {
        CreateReply reply;
        if (!Call(SLAB_REQUEST, SlabRequest(), CREATE_REPLY, &reply).ok() || reply.error() != OK) {
          return std::nullopt;  // The socket path reports the error.
        }
        index_->SetSlab(reply.offset(), reply.requested());
        break;
      }
    }
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<std::optional<ObjectBuffer>>> PlasmaClient::Get(const std::vector<ObjectId>& ids,
                                                                           int64_t timeout_ms) {
  std::vector<std::optional<ObjectBuffer>> out(ids.size());
  absl::MutexLock lock(&mu_);
  bool missing = false;
  for (size_t i = 0; i < ids.size(); ++i) {
    auto held = held_.find(ids[i]);
    if (held == held_.end()) {
      missing = true;
      continue;
    }
    if (held->second.count == 0) {  // Back from the release cache.
      release_cache_.erase(held->second.cached);
      release_cache_bytes_ -= held->second.buffer.data_size + held->second.buffer.metadata_size;
    }
    ++held->second.count;
    out[i] = held->second.buffer;
  }
  if (missing && index_ != nullptr) GetThroughIndex(ids, &out);
  missing = std::any_of(out.begin(), out.end(), [](const auto& buffer) { return !buffer.has_value(); });
  if (missing) {
    if (absl::Status fetched = FetchMissing(ids, timeout_ms, &out); !fetched.ok()) return fetched;
  }
  return out;
}

// Takes the sealed objects among the entries of `out` still empty from the
// index and counts the holds.
void PlasmaClient::GetThroughIndex(const std::vector<ObjectId>& ids, std::vector<std::optional<ObjectBuffer>>* out) {
  std::vector<bool> got;
  if (index_->Get(ids, out, &got) == 0) return;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (!got[i]) continue;
    Held& held = held_[ids[i]];
    if (held.count > 0) {  // The same id twice in one Get: one bit, two holds.
      ++held.count;
      continue;
    }
    held.count = 1;
    held.fast = true;
    held.buffer = *(*out)[i];
  }
}

// Asks the store for the entries of `out` still empty and counts the holds.
absl::Status PlasmaClient::FetchMissing(const std::vector<ObjectId>& ids, int64_t timeout_ms,
                                        std::vector<std::optional<ObjectBuffer>>* out) {
  GetRequest request;
  std::vector<size_t> asked;
  for (size_t i = 0; i < ids.size(); ++i) {
    if ((*out)[i].has_value()) continue;
    request.add_ids(ids[i].data(), ObjectId::kSize);
    asked.push_back(i);
  }
  request.set_timeout_ms(timeout_ms);
  GetReply reply;
  absl::Status called = Call(GET_REQUEST, request, GET_REPLY, &reply);
  if (called.ok() && reply.error() == OK && reply.objects_size() != static_cast<int>(asked.size())) {
    called = absl::InternalError("Get reply of the wrong length");
  }
  if (!called.ok() || reply.error() != OK) {
    Releases to_release;
    for (size_t i = 0; i < ids.size(); ++i) {  // Undo the holds counted locally.
      if ((*out)[i].has_value()) Unhold(ids[i], &to_release);
    }
    QueueRelease(to_release);  // Sent with the next request.
    return called.ok() ? ToStatus(reply.error(), reply.message()) : called;
  }
  for (size_t k = 0; k < asked.size(); ++k) {
    const ObjectLocation& location = reply.objects(static_cast<int>(k));
    if (!location.found()) continue;
    const uint8_t* data = base_ + location.offset();
    ObjectBuffer buffer{data, location.data_size(), data + location.data_size(), location.metadata_size()};
    Held& held = held_[ids[asked[k]]];
    held.buffer = buffer;
    ++held.count;
    (*out)[asked[k]] = buffer;
  }
  return absl::OkStatus();
}

absl::Status PlasmaClient::Release(const ObjectId& id) {
  absl::MutexLock lock(&mu_);
  auto held = held_.find(id);
  if (held == held_.end() || held->second.count == 0) {
    return absl::FailedPreconditionError("release of object " + id.Hex() + " not held");
  }
  Releases to_release;
  Unhold(id, &to_release);
  QueueRelease(to_release);
  if (output_.empty()) return absl::OkStatus();
  absl::Status written = WriteAll(fd_, output_);  // One-way: no reply.
  output_.clear();
  return written;
}

// Drops one hold; at zero the object enters the release cache (evicting
// the oldest entries into `to_release`) or goes to `to_release` itself.
void PlasmaClient::Unhold(const ObjectId& id, Releases* to_release) {
  auto held = held_.find(id);
  if (--held->second.count > 0) return;
  const uint64_t size = held->second.buffer.data_size + held->second.buffer.metadata_size;
  if (size > kCacheableSize) {
    (held->second.fast ? to_release->fast : to_release->socket).push_back(id);
    held_.erase(held);
    return;
  }
  held->second.cached = release_cache_.insert(release_cache_.end(), id);
  release_cache_bytes_ += size;
  while (release_cache_.size() > kCacheEntries || release_cache_bytes_ > kCacheBytes) {
    Uncache(release_cache_.front(), to_release);
  }
}

// `id` may be the cache entry itself (callers pass release_cache_.front()),
// so it is copied out before that entry is erased.
void PlasmaClient::Uncache(const ObjectId& id, Releases* to_release) {
  auto held = held_.find(id);
  (held->second.fast ? to_release->fast : to_release->socket).push_back(id);
  release_cache_.erase(held->second.cached);
  release_cache_bytes_ -= held->second.buffer.data_size + held->second.buffer.metadata_size;
  held_.erase(held);
}

absl::Status PlasmaClient::FlushReleases() {
  absl::MutexLock lock(&mu_);
  Releases to_release;
  while (!release_cache_.empty()) Uncache(release_cache_.front(), &to_release);
  QueueRelease(to_release);
  absl::Status written = WriteAll(fd_, output_);
  output_.clear();
  return written;
}

absl::StatusOr<bool> PlasmaClient::Contains(const ObjectId& id) {
  ObjectRequest request;
  request.set_id(id.data(), ObjectId::kSize);
  absl::MutexLock lock(&mu_);
  ContainsReply reply;
  if (absl::Status called = Call(CONTAINS_REQUEST, request, CONTAINS_REPLY, &reply); !called.ok()) return called;
  return reply.has_object();
}

absl::Status PlasmaClient::Delete(const std::vector<ObjectId>& ids) {
  ObjectsRequest request;
  for (const ObjectId& id : ids) request.add_ids(id.data(), ObjectId::kSize);
  absl::MutexLock lock(&mu_);
  Releases to_release;  // Our cached holds must not delay the delete.
  for (const ObjectId& id : ids) {
    auto held = held_.find(id);
    if (held != held_.end() && held->second.count == 0) Uncache(id, &to_release);
  }
  QueueRelease(to_release);  // Leaves in the same write as the Delete.
  StatusReply reply;
  if (absl::Status called = Call(DELETE_REQUEST, request, STATUS_REPLY, &reply); !called.ok()) return called;
  return ToStatus(reply.error(), reply.message());
}

absl::Status PlasmaClient::PutBatch(const std::vector<PutItem>& items, bool pin) {
  std::vector<const PutItem*> large;
  absl::Status first_error = PutInline(items, pin, &large);
  for (const PutItem* item : large) {
    absl::Status put =
        Put(item->id, item->data.data(), item->data.size(), item->metadata.data(), item->metadata.size(), pin);
    if (first_error.ok()) first_error = put;
  }
  return first_error;
}

// Writes a CreateAndSeal frame per small item in one write, then reads all
// the replies; items too large to go inline are left in `large`.
absl::Status PlasmaClient::PutInline(const std::vector<PutItem>& items, bool pin,
                                     std::vector<const PutItem*>* large) {
  absl::MutexLock lock(&mu_);
  size_t sent = 0;
  CreateRequest request;
  for (const PutItem& item : items) {
    if (item.data.size() + item.metadata.size() > kInlinePutLimit) {
      large->push_back(&item);
      continue;
    }
    request.set_id(item.id.data(), ObjectId::kSize);
    request.set_data_size(item.data.size());
    request.set_metadata_size(item.metadata.size());
    request.set_pin(pin);
    request.set_seal(true);
    request.mutable_inline_data()->assign(item.data).append(item.metadata);
    AppendFrame(CREATE_REQUEST, request, &output_);
    ++sent;
  }
  absl::Status written = WriteAll(fd_, output_);
  output_.clear();
  if (!written.ok()) return written;
  absl::Status first_error;
  for (size_t i = 0; i < sent; ++i) {
    absl::StatusOr<std::optional<Frame>> frame = ReadFrame(fd_, input_);
    if (!frame.ok()) return frame.status();
    CreateReply reply;
    if ((*frame)->type != CREATE_REPLY || !ParseBody(**frame, &reply)) return absl::InternalError("bad reply to Put");
    if (first_error.ok()) first_error = ToStatus(reply.error(), reply.message());
  }
  return first_error;
}

absl::Status PlasmaClient::Pin(const std::vector<ObjectId>& ids, bool pin) {
  ObjectsRequest request;
  for (const ObjectId& id : ids) request.add_ids(id.data(), ObjectId::kSize);
  request.set_pin(pin);
  return SimpleCall(PIN_REQUEST, request);
}

absl::Status PlasmaClient::Ping() { return SimpleCall(PING_REQUEST, StatusReply()); }

}  // namespace lumen::plasma
