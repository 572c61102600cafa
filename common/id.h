// common/id.h
//
// Binary identifiers, laid out like Ray's so they print the same way:
//   JobId    4 bytes
//   ActorId  16 bytes = 12 unique + JobId
//   TaskId   24 bytes = 8 unique + ActorId (nil actor = 0xff..)
//   ObjectId 28 bytes = TaskId + 4-byte little-endian return/put index
//   NodeId, WorkerId 28 random bytes
// An ObjectRef made by the first task of job 1 prints as
// e5b2fae6e42f6bbaffffffffffffffffffffffff0100000001000000.
// Ids are plain values: copyable, hashable, comparable; no threading rules.
#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace lumen {

// Fills `out` with `n` random bytes from a per-thread generator.
void FillRandom(uint8_t* out, size_t n);

template <typename Derived, size_t N>
class BaseId {
 public:
  static constexpr size_t kSize = N;

  BaseId() { bytes_.fill(0xff); }  // The nil id.

  static Derived Nil() { return Derived(); }
  static Derived FromRandom() {
    Derived id;
    FillRandom(id.bytes_.data(), N);
    return id;
  }
  // Fails unless `binary` holds exactly kSize bytes.
  static absl::StatusOr<Derived> FromBinary(std::string_view binary) {
    if (binary.size() != N) {
      return absl::InvalidArgumentError("id of " + std::to_string(binary.size()) +
                                        " bytes, expected " + std::to_string(N));
    }
    Derived id;
    std::memcpy(id.bytes_.data(), binary.data(), N);
    return id;
  }
  // Like FromBinary but returns Nil on a bad length (for trusted sources).
  static Derived FromBinaryOrNil(std::string_view binary) {
    Derived id;
    if (binary.size() == N) std::memcpy(id.bytes_.data(), binary.data(), N);
    return id;
  }
  static absl::StatusOr<Derived> FromHex(std::string_view hex);

  std::string Binary() const { return std::string(reinterpret_cast<const char*>(bytes_.data()), N); }
  std::string Hex() const;
  bool IsNil() const {
    for (auto b : bytes_)
      if (b != 0xff) return false;
    return true;
  }
  const uint8_t* data() const { return bytes_.data(); }
  uint8_t* mutable_data() { return bytes_.data(); }
  size_t Hash() const {
    size_t h = 0;
    std::memcpy(&h, bytes_.data(), sizeof(h) < N ? sizeof(h) : N);
    return h ^ (bytes_[N - 1] * 0x9e3779b97f4a7c15ULL);
  }

  friend bool operator==(const Derived& a, const Derived& b) { return a.bytes_ == b.bytes_; }
  friend bool operator!=(const Derived& a, const Derived& b) { return !(a == b); }
  friend bool operator<(const Derived& a, const Derived& b) { return a.bytes_ < b.bytes_; }
  template <typename H>
  friend H AbslHashValue(H h, const Derived& id) {
    return H::combine_contiguous(std::move(h), id.bytes_.data(), N);
  }

 protected:
  std::array<uint8_t, N> bytes_;
};

std::string BytesToHex(const uint8_t* data, size_t n);
bool HexToBytes(std::string_view hex, uint8_t* out, size_t n);

template <typename Derived, size_t N>
std::string BaseId<Derived, N>::Hex() const {
  return BytesToHex(bytes_.data(), N);
}

template <typename Derived, size_t N>
absl::StatusOr<Derived> BaseId<Derived, N>::FromHex(std::string_view hex) {
  Derived id;
  if (hex.size() != 2 * N || !HexToBytes(hex, id.bytes_.data(), N)) {
    return absl::InvalidArgumentError("bad hex id '" + std::string(hex) + "'");
  }
  return id;
}

class JobId : public BaseId<JobId, 4> {
 public:
  static JobId FromInt(uint32_t value);
  uint32_t ToInt() const;
};

class ActorId : public BaseId<ActorId, 16> {
 public:
  static ActorId Of(const JobId& job);  // 12 random bytes + job.
  static ActorId NilFor(const JobId& job);
  JobId Job() const;
};

class TaskId : public BaseId<TaskId, 24> {
 public:
  // A random task of `job` not bound to an actor.
  static TaskId ForNormalTask(const JobId& job);
  // The pseudo task standing for a driver's own puts.
  static TaskId ForDriver(const JobId& job);
  ActorId Actor() const;
  JobId Job() const { return Actor().Job(); }
};

class ObjectId : public BaseId<ObjectId, 28> {
 public:
  // Return value `index` (1-based, as Ray) of `task`.
  static ObjectId FromIndex(const TaskId& task, uint32_t index);
  TaskId Task() const;
  uint32_t Index() const;
};

class NodeId : public BaseId<NodeId, 28> {};
class WorkerId : public BaseId<WorkerId, 28> {};

struct IdHash {
  template <typename T>
  size_t operator()(const T& id) const {
    return id.Hash();
  }
};

}  // namespace lumen

namespace std {
#define LUMEN_ID_STD_HASH(T) \
  template <>                \
  struct hash<lumen::T> {    \
    size_t operator()(const lumen::T& id) const { return id.Hash(); } \
  };
LUMEN_ID_STD_HASH(JobId)
LUMEN_ID_STD_HASH(ActorId)
LUMEN_ID_STD_HASH(TaskId)
LUMEN_ID_STD_HASH(ObjectId)
LUMEN_ID_STD_HASH(NodeId)
LUMEN_ID_STD_HASH(WorkerId)
#undef LUMEN_ID_STD_HASH
}  // namespace std
