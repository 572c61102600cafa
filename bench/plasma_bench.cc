// plasma_bench: throughput and latency of the plasma store as a client sees
// it. Starts its own lumen-plasma, then measures (medians of several runs):
//   0. The Unix-socket round trip to the store (Ping), the floor of any call
//      that waits for the store
//   1. Put of 8-byte objects (create + write + seal), ops/s, one call per
//      object (through the shared index: no round trip) and in batches
//   2. Get + Release of 8-byte objects, ops/s: the same object again and
//      again (served by the client's release cache), distinct objects one
//      per Get (from the shared index), and distinct objects in batched Gets
//   3. Put of one 800 MB buffer, GB/s, next to a plain memcpy of 800 MB
//   4. Get of an 800 MB object sealed by another process, latency in us
// Usage: plasma_bench [--reps N]. Prints figures; asserts nothing.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

#include "plasma/client.h"
#include "tests/plasma_harness.h"

namespace {

using lumen::ObjectId;
using lumen::plasma::PlasmaClient;
using Clock = std::chrono::steady_clock;

constexpr uint64_t kBig = 800ull * 1000 * 1000;
constexpr int kSmallOps = 20000;

double Seconds(Clock::time_point start) { return std::chrono::duration<double>(Clock::now() - start).count(); }

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

ObjectId IdOf(uint32_t n) {
  ObjectId id = ObjectId::FromRandom();
  std::memcpy(id.mutable_data(), &n, sizeof(n));
  return id;
}

constexpr size_t kBatch = 64;

// 8-byte puts, one call each (`batch` false) or PutBatch of kBatch items.
double SmallPutOpsPerSecond(PlasmaClient& client, bool batch) {
  std::vector<ObjectId> ids;
  for (int i = 0; i < kSmallOps; ++i) ids.push_back(IdOf(i));
  const uint64_t value = 42;
  const std::string_view bytes(reinterpret_cast<const char*>(&value), sizeof(value));
  auto start = Clock::now();
  if (batch) {
    std::vector<PlasmaClient::PutItem> items;
    for (size_t i = 0; i < ids.size(); i += kBatch) {
      items.clear();
      for (size_t k = i; k < std::min(ids.size(), i + kBatch); ++k) items.push_back({ids[k], bytes, {}});
      if (!client.PutBatch(items).ok()) std::abort();
    }
  } else {
    for (const ObjectId& id : ids) {
      if (!client.Put(id, &value, sizeof(value)).ok()) std::abort();
    }
  }
  const double rate = kSmallOps / Seconds(start);
  if (!client.Delete(ids).ok()) std::abort();
  return rate;
}

// Round trips to the store per second (Ping: one write, one read).
double PingsPerSecond(PlasmaClient& client) {
  auto start = Clock::now();
  for (int i = 0; i < kSmallOps; ++i) {
    if (!client.Ping().ok()) std::abort();
  }
  return kSmallOps / Seconds(start);
}

// Get + Release of `ids`, `per_call` ids per Get.
double SmallGetOpsPerSecond(PlasmaClient& client, const std::vector<ObjectId>& ids, size_t per_call) {
  auto start = Clock::now();
  size_t ops = 0;
  std::vector<ObjectId> request;
  while (ops < static_cast<size_t>(kSmallOps)) {
    for (size_t i = 0; i < ids.size(); i += per_call) {
      request.assign(ids.begin() + i, ids.begin() + std::min(ids.size(), i + per_call));
      auto got = client.Get(request, 0);
      if (!got.ok()) std::abort();
      for (const ObjectId& id : request) {
        if (!client.Release(id).ok()) std::abort();
      }
      ops += request.size();
    }
  }
  return ops / Seconds(start);
}

// Returns {put seconds, memcpy seconds}.
std::pair<double, double> BigPut(PlasmaClient& client, const std::vector<uint8_t>& source,
                                 std::vector<uint8_t>& plain, uint32_t n) {
  const ObjectId id = IdOf(n);
  auto start = Clock::now();
  absl::Status put = client.Put(id, source.data(), kBig);
  const double put_seconds = Seconds(start);
  if (!put.ok()) {
    std::fprintf(stderr, "%s\n", std::string(put.message()).c_str());
    std::abort();
  }
  if (!client.Delete({id}).ok()) std::abort();
  start = Clock::now();
  std::memcpy(plain.data(), source.data(), kBig);
  return {put_seconds, Seconds(start)};
}

}  // namespace

int main(int argc, char** argv) {
  int reps = 5;
  if (argc == 3 && std::string(argv[1]) == "--reps") reps = std::max(1, std::atoi(argv[2]));
  lumen::plasma::testing::StoreProcessGroup group(LUMEN_PLASMA_BIN, 2ull << 30, {"--prefault=true"});
  if (!group.ready()) {
    std::fprintf(stderr, "lumen-plasma did not start\n");
    return 1;
  }
  auto client = std::move(PlasmaClient::Connect(group.socket_path())).value();

  // Distinct small objects for the Get figures, and one for repeated Gets.
  std::vector<ObjectId> distinct;
  const uint64_t value = 7;
  for (int i = 0; i < 4096; ++i) {
    distinct.push_back(IdOf(500000 + i));
    if (!client->Put(distinct.back(), &value, sizeof(value)).ok()) return 1;
  }
  const std::vector<ObjectId> same = {distinct[0]};
  std::vector<double> pings, puts, batched_puts, gets_same, gets_distinct, gets_distinct_batched;
  for (int r = 0; r < reps; ++r) {
    pings.push_back(PingsPerSecond(*client));
    puts.push_back(SmallPutOpsPerSecond(*client, false));
    batched_puts.push_back(SmallPutOpsPerSecond(*client, true));
    gets_same.push_back(SmallGetOpsPerSecond(*client, same, 1));
    gets_distinct.push_back(SmallGetOpsPerSecond(*client, distinct, 1));
    gets_distinct_batched.push_back(SmallGetOpsPerSecond(*client, distinct, kBatch));
  }
  std::printf("medians of %d repetitions\n", reps);
  std::printf("socket round trip to the store (Ping), the floor:      %9.0f ops/s  (%.1f us)\n", Median(pings),
              1e6 / Median(pings));
  std::printf("small put (8 B create+write+seal), one Put per object: %9.0f ops/s  (goal >= 50000)\n", Median(puts));
  std::printf("small put, PutBatch of %zu:                             %9.0f ops/s\n", kBatch, Median(batched_puts));
  std::printf("small get+release, same object (client cache hit):     %9.0f ops/s  (goal >= 100000)\n",
              Median(gets_same));
  std::printf("small get+release, 4096 distinct objects, 1 per Get:   %9.0f ops/s\n", Median(gets_distinct));
  std::printf("small get+release, 4096 distinct objects, %zu per Get:  %9.0f ops/s\n", kBatch,
              Median(gets_distinct_batched));

  std::vector<uint8_t> source(kBig, 3);
  std::vector<uint8_t> plain(kBig, 1);  // Touched: a memcpy into warm memory.
  std::vector<double> put_seconds, copy_seconds;
  double first_put = 0;
  for (int r = 0; r < reps; ++r) {
    auto [put, copy] = BigPut(*client, source, plain, 1000 + r);
    if (r == 0) first_put = put;
    put_seconds.push_back(put);
    copy_seconds.push_back(copy);
  }
  const double put_gbs = kBig / Median(put_seconds) / 1e9;
  const double copy_gbs = kBig / Median(copy_seconds) / 1e9;
  std::printf("put 800 MB:   %6.2f GB/s median (first, cold: %.2f GB/s)\n", put_gbs, kBig / first_put / 1e9);
  std::printf("memcpy 800 MB: %5.2f GB/s median; put/memcpy = %.2f  (goal >= 0.8)\n", copy_gbs, put_gbs / copy_gbs);

  // An 800 MB object sealed by another process, then Get + Release here.
  const ObjectId big = IdOf(424242);
  pid_t writer = group.Fork([&] {
    auto other = PlasmaClient::Connect(group.socket_path());
    if (!other.ok()) return 1;
    auto buffer = (*other)->Create(big, kBig, 0, /*pin=*/true);
    if (!buffer.ok()) return 2;
    std::memset(buffer->data, 5, kBig);
    return (*other)->Seal(big).ok() ? 0 : 3;
  });
  if (group.Wait(writer) != 0) return 1;
  std::vector<double> latencies;
  for (int i = 0; i < 200; ++i) {
    auto start = Clock::now();
    auto got = client->Get({big}, 1000);
    const double us = Seconds(start) * 1e6;
    if (!got.ok() || !(*got)[0].has_value() || (*got)[0]->data_size != kBig) return 1;
    latencies.push_back(us);
    if (!client->Release(big).ok()) return 1;
  }
  std::printf("get 800 MB from another process: %.1f us median, %.1f us first  (goal < 100)\n",
              Median(latencies), latencies[0]);
  return 0;
}
