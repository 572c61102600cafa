// plasma/shm_segment.h
//
// ShmSegment is the store's arena: one shared-memory file in the shm
// directory (/dev/shm), unlinked as soon as it exists, so nothing leaks when
// the store dies; the store keeps the descriptor, passes it to clients and
// maps it once. Prefault() commits the arena's pages on a background thread
// so clients' first writes do not pay for page allocation.
// ChooseArenaSize is the pure sizing rule: 30% of RAM by default, capped by
// the free space of the shm directory (with a warning); an explicit size
// larger than that free space is an error.
// Threading: create and destroy on one thread; the prefault thread only
// touches the kernel file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/status/statusor.h"

namespace lumen::plasma {

struct ArenaSize {
  uint64_t bytes = 0;
  std::string warning;  // Non-empty when the default was capped.
};

// `requested` 0 means the default.
absl::StatusOr<ArenaSize> ChooseArenaSize(uint64_t requested, uint64_t total_ram, uint64_t shm_free);

// Physical memory and free bytes in `shm_dir`, from sysconf and statvfs.
uint64_t TotalRamBytes();
absl::StatusOr<uint64_t> FreeBytesIn(const std::string& dir);

class ShmSegment {
 public:
  static absl::StatusOr<std::unique_ptr<ShmSegment>> Create(const std::string& shm_dir, uint64_t size);
  ~ShmSegment();
  ShmSegment(const ShmSegment&) = delete;
  ShmSegment& operator=(const ShmSegment&) = delete;

  // Allocates every page of the file (fallocate) on a background thread.
  void Prefault();

  int fd() const { return fd_; }
  uint8_t* base() const { return base_; }
  uint64_t size() const { return size_; }

 private:
  ShmSegment(int fd, uint8_t* base, uint64_t size) : fd_(fd), base_(base), size_(size) {}

  int fd_;
  uint8_t* base_;
  uint64_t size_;
  std::thread prefault_thread_;
};

}  // namespace lumen::plasma
