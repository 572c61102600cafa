// Spilling throughput on a private local cluster whose object store is
// smaller than the working set (256 MB by default; LUMEN_BENCH_STORE_MB),
// next to the disk's sequential speed measured in the same run on the file
// system of the spill directory (<session>/spill):
//   put_fits        ray::Put of 32 MiB arrays while they fit (no spilling)
//   spill           ray::Put of twice the store: the store spills the least
//                   recently used primaries to files while the puts wait;
//                   spill GB/s = bytes spilled / (the puts' time - the time
//                   the same bytes take to put without spilling)
//   restore         ray::GetView of the spilled objects after the ones in
//                   memory were freed (nothing needs spilling to make room):
//                   bytes restored / time
//   disk write      the same number of bytes written to one file in the
//                   spill directory, 64 MiB at a time: with fsync (the
//                   device), and without (the page cache, which is what a
//                   spill writes to: the spiller does not fsync)
//   disk read       that file read back after posix_fadvise(DONTNEED) (the
//                   device), and again (the page cache)
// Median of LUMEN_BENCH_REPS (3) runs each; one private cluster per run.
#include <fcntl.h>
#include <ray/api.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "bench/floors.h"
#include "plasma/client.h"
#include "worker/runtime.h"

namespace {

using lumen::bench::Clock;
using lumen::bench::Median;
using lumen::bench::SecondsSince;

constexpr size_t kObjectBytes = 32u << 20;
constexpr size_t kChunk = 64u << 20;

int EnvInt(const char* name, int fallback) {
  const char* v = std::getenv(name);
  return v ? std::atoi(v) : fallback;
}

std::vector<double> Array(int seed) {
  std::vector<double> v(kObjectBytes / sizeof(double));
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(seed) + static_cast<double>(i % 977);
  return v;
}

struct Figures {
  double put_fits_gbps = 0, spill_gbps = 0, restore_gbps = 0;
  double write_sync_gbps = 0, write_cache_gbps = 0, read_disk_gbps = 0, read_cache_gbps = 0;
  uint64_t spilled = 0, restored = 0;
};

// Writes `bytes` to `path` 64 MiB at a time (fsync at the end when `sync`);
// GB/s.
double WriteFile(const std::string& path, uint64_t bytes, bool sync) {
  std::vector<char> chunk(kChunk, 'x');
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return 0;
  auto start = Clock::now();
  for (uint64_t done = 0; done < bytes;) {
    ssize_t n = ::write(fd, chunk.data(), std::min<uint64_t>(kChunk, bytes - done));
    if (n <= 0) break;
    done += static_cast<uint64_t>(n);
  }
  if (sync) ::fsync(fd);
  double s = SecondsSince(start);
  ::close(fd);
  return static_cast<double>(bytes) / s / 1e9;
}

// Reads `path` whole; from the device first when `drop_cache`.
double ReadFile(const std::string& path, bool drop_cache) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd < 0) return 0;
  if (drop_cache) {
    ::fdatasync(fd);
    ::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  }
  std::vector<char> chunk(kChunk);
  uint64_t total = 0;
  auto start = Clock::now();
  for (ssize_t n; (n = ::read(fd, chunk.data(), chunk.size())) > 0;) total += static_cast<uint64_t>(n);
  double s = SecondsSince(start);
  ::close(fd);
  return static_cast<double>(total) / s / 1e9;
}

Figures OneRun(int store_mb, int cpus) {
  ray::RayConfig config;
  config.num_cpus = cpus;
  config.object_store_memory = static_cast<int64_t>(store_mb) << 20;
  ray::Init(config);
  const std::string session = lumen::worker::GetRuntimeStats().session_dir;
  auto store = lumen::plasma::PlasmaClient::Connect(session + "/sockets/plasma.sock");
  if (!store.ok()) {
    std::fprintf(stderr, "cannot reach the store: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  auto spilled_bytes = [&] { return (*store)->Stats()->spilled_bytes(); };

  const int total = 2 * store_mb / 32;     // Twice the store.
  const int fits = store_mb * 5 / 8 / 32;  // Well inside it.
  std::vector<std::vector<double>> arrays;
  for (int i = 0; i < total; ++i) arrays.push_back(Array(i));
  std::vector<ray::ObjectRef<std::vector<double>>> refs;
  Figures f;

  auto start = Clock::now();
  for (int i = 0; i < fits; ++i) refs.push_back(ray::Put(arrays[i]));
  const double fits_s = SecondsSince(start);
  f.put_fits_gbps = static_cast<double>(fits) * kObjectBytes / fits_s / 1e9;

  const uint64_t spilled_before = spilled_bytes();
  start = Clock::now();
  for (int i = fits; i < total; ++i) refs.push_back(ray::Put(arrays[i]));
  const double rest_s = SecondsSince(start);
  f.spilled = spilled_bytes() - spilled_before;
  const double unspilled_s = static_cast<double>(total - fits) * kObjectBytes / (f.put_fits_gbps * 1e9);
  f.spill_gbps = static_cast<double>(f.spilled) / std::max(rest_s - unspilled_s, 1e-6) / 1e9;

  // Free what is in memory (the newest), then read back the oldest, which
  // were spilled, as many as fit in half the store.
  const int spilled_objects = static_cast<int>(f.spilled / kObjectBytes);
  for (int i = spilled_objects; i < total; ++i) refs[i] = ray::ObjectRef<std::vector<double>>();
  const int restore = std::min(spilled_objects, store_mb / 2 / 32);
  start = Clock::now();
  size_t check = 0;
  for (int i = 0; i < restore; ++i) check += ray::GetView(refs[i]).size();
  const double restore_s = SecondsSince(start);
  f.restored = static_cast<uint64_t>(restore) * kObjectBytes;
  f.restore_gbps = restore > 0 ? static_cast<double>(f.restored) / restore_s / 1e9 : 0;
  if (check != static_cast<size_t>(restore) * (kObjectBytes / sizeof(double))) std::printf("(wrong sizes)\n");
  refs.clear();

  const std::string file = session + "/spill/disk_floor.bin";
  const uint64_t bytes = std::max<uint64_t>(f.spilled, kObjectBytes);
  f.write_sync_gbps = WriteFile(file, bytes, true);
  f.read_disk_gbps = ReadFile(file, true);
  f.read_cache_gbps = ReadFile(file, false);
  f.write_cache_gbps = WriteFile(file, bytes, false);
  ::unlink(file.c_str());
  ray::Shutdown();
  return f;
}

}  // namespace

int main() {
  const int store_mb = EnvInt("LUMEN_BENCH_STORE_MB", 256);
  const int reps = EnvInt("LUMEN_BENCH_REPS", 3);
  const int cpus = EnvInt("LUMEN_BENCH_CPUS", 2);
  std::vector<Figures> runs;
  for (int r = 0; r < reps; ++r) runs.push_back(OneRun(store_mb, cpus));
  auto med = [&](double Figures::*field) {
    std::vector<double> v;
    for (const auto& f : runs) v.push_back(f.*field);
    return Median(v);
  };
  std::printf("spill_bench: %d MB store, %d x 32 MiB objects put, median of %d runs\n", store_mb,
              2 * store_mb / 32, reps);
  std::printf("put_fits                %7.2f GB/s\n", med(&Figures::put_fits_gbps));
  std::printf("spill                   %7.2f GB/s   (%llu MB spilled)   disk write %.2f GB/s with fsync, %.2f GB/s "
              "to the page cache\n",
              med(&Figures::spill_gbps), static_cast<unsigned long long>(runs[0].spilled >> 20),
              med(&Figures::write_sync_gbps), med(&Figures::write_cache_gbps));
  std::printf("restore                 %7.2f GB/s   (%llu MB restored)  disk read %.2f GB/s from the device, %.2f GB/s "
              "from the page cache\n",
              med(&Figures::restore_gbps), static_cast<unsigned long long>(runs[0].restored >> 20),
              med(&Figures::read_disk_gbps), med(&Figures::read_cache_gbps));
  return 0;
}
