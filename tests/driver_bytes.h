// tests/driver_bytes.h
//
// Test drivers' values: FillBytes makes `bytes` pseudo-random bytes (xorshift64,
// no period within a GiB; the same for the same seed in every process), and
// Checksum (FNV-1a) says whether two processes read identical bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace lumen::testing {

inline std::vector<uint8_t> FillBytes(int64_t bytes, uint64_t seed = 0) {
  std::vector<uint8_t> out(static_cast<size_t>(bytes));
  uint64_t x = 0x9e3779b97f4a7c15ull + seed;
  for (auto& b : out) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  return out;
}

inline uint64_t Checksum(const uint8_t* data, size_t n) {
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ data[i]) * 1099511628211ull;
  return h;
}

}  // namespace lumen::testing
