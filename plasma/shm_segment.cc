#include "plasma/shm_segment.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "glog/logging.h"

namespace lumen::plasma {

namespace {
constexpr uint64_t kMinArena = 1 << 20;

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// An unnamed file in `dir` (O_TMPFILE), or a named one unlinked at once.
int OpenUnlinkedFile(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
  if (fd >= 0) return fd;
  std::string path = dir + "/lumen-plasma-XXXXXX";
  fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd >= 0) ::unlink(path.c_str());
  return fd;
}
}  // namespace

absl::StatusOr<ArenaSize> ChooseArenaSize(uint64_t requested, uint64_t total_ram, uint64_t shm_free) {
  ArenaSize size;
  if (requested != 0) {
    if (requested < kMinArena) return absl::InvalidArgumentError(absl::StrCat("object store memory ", requested, " bytes is below the minimum of ", kMinArena));
    if (requested > shm_free) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "object store memory of ", requested, " bytes does not fit in the shm directory, which has ",
          shm_free, " bytes free; give a smaller --object-store-memory or enlarge /dev/shm"));
    }
    size.bytes = requested;
    return size;
  }
  size.bytes = total_ram / 10 * 3;
  if (size.bytes > shm_free) {
    size.warning = absl::StrCat("the shm directory has only ", shm_free, " bytes free, less than 30% of RAM (",
                                size.bytes, " bytes): the object store is capped to ", shm_free,
                                " bytes; enlarge /dev/shm (e.g. docker --shm-size) for a bigger store");
    size.bytes = shm_free;
  }
  if (size.bytes < kMinArena) {
    return absl::ResourceExhaustedError(absl::StrCat("only ", size.bytes, " bytes available for the object store"));
  }
  return size;
}

uint64_t TotalRamBytes() {
  return static_cast<uint64_t>(::sysconf(_SC_PHYS_PAGES)) * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
}

absl::StatusOr<uint64_t> FreeBytesIn(const std::string& dir) {
  struct statvfs info;
  if (::statvfs(dir.c_str(), &info) != 0) return absl::NotFoundError(Errno("statvfs " + dir));
  return static_cast<uint64_t>(info.f_bavail) * info.f_frsize;
}

absl::StatusOr<std::unique_ptr<ShmSegment>> ShmSegment::Create(const std::string& shm_dir, uint64_t size) {
  int fd = OpenUnlinkedFile(shm_dir);
  if (fd < 0) return absl::UnavailableError(Errno("cannot create a file in " + shm_dir));
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
    std::string error = Errno("ftruncate");
    ::close(fd);
    return absl::ResourceExhaustedError(error);
  }
  void* base = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (base == MAP_FAILED) {
    std::string error = Errno("mmap");
    ::close(fd);
    return absl::ResourceExhaustedError(error);
  }
  return std::unique_ptr<ShmSegment>(new ShmSegment(fd, static_cast<uint8_t*>(base), size));
}

void ShmSegment::Prefault() {
  prefault_thread_ = std::thread([fd = fd_, size = size_] {
    const auto start = std::chrono::steady_clock::now();
    if (::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0) {
      LOG(WARNING) << "could not prefault the arena: " << std::strerror(errno);
      return;
    }
    const auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start);
    VLOG(1) << "arena of " << size << " bytes prefaulted in " << elapsed.count() << " ms";
  });
}

ShmSegment::~ShmSegment() {
  if (prefault_thread_.joinable()) prefault_thread_.join();
  ::munmap(base_, size_);
  ::close(fd_);
}

}  // namespace lumen::plasma
