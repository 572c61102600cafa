#include "common/id.h"

#include <random>

namespace lumen {

void FillRandom(uint8_t* out, size_t n) {
  thread_local std::mt19937_64 gen{std::random_device{}()};
  for (size_t i = 0; i < n; i += 8) {
    uint64_t v = gen();
    std::memcpy(out + i, &v, std::min<size_t>(8, n - i));
  }
}

std::string BytesToHex(const uint8_t* data, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

static int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool HexToBytes(std::string_view hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  for (size_t i = 0; i < n; ++i) {
    int hi = HexValue(hex[2 * i]), lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

JobId JobId::FromInt(uint32_t value) {
  JobId id;
  std::memcpy(id.bytes_.data(), &value, 4);  // Little-endian like Ray.
  return id;
}

uint32_t JobId::ToInt() const {
  uint32_t v;
  std::memcpy(&v, bytes_.data(), 4);
  return v;
}

ActorId ActorId::Of(const JobId& job) {
  ActorId id;
  FillRandom(id.bytes_.data(), 12);
  std::memcpy(id.bytes_.data() + 12, job.data(), 4);
  return id;
}

ActorId ActorId::NilFor(const JobId& job) {
  ActorId id;  // 12 bytes of 0xff.
  std::memcpy(id.bytes_.data() + 12, job.data(), 4);
  return id;
}

JobId ActorId::Job() const { return JobId::FromBinaryOrNil(Binary().substr(12)); }

TaskId TaskId::ForNormalTask(const JobId& job) {
  TaskId id;
  FillRandom(id.bytes_.data(), 8);
  std::memcpy(id.bytes_.data() + 8, ActorId::NilFor(job).data(), 16);
  return id;
}

TaskId TaskId::ForDriver(const JobId& job) {
  TaskId id;
  std::memset(id.bytes_.data(), 0, 8);
  std::memcpy(id.bytes_.data() + 8, ActorId::NilFor(job).data(), 16);
  return id;
}

ActorId TaskId::Actor() const { return ActorId::FromBinaryOrNil(Binary().substr(8)); }

ObjectId ObjectId::FromIndex(const TaskId& task, uint32_t index) {
  ObjectId id;
  std::memcpy(id.bytes_.data(), task.data(), 24);
  std::memcpy(id.bytes_.data() + 24, &index, 4);
  return id;
}

TaskId ObjectId::Task() const { return TaskId::FromBinaryOrNil(Binary().substr(0, 24)); }

uint32_t ObjectId::Index() const {
  uint32_t v;
  std::memcpy(&v, bytes_.data() + 24, 4);
  return v;
}

}  // namespace lumen
