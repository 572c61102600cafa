#include "common/rpc/fault_injection.h"

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <random>
#include <unordered_map>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "glog/logging.h"

namespace lumen::rpc {
namespace {

struct Probabilities {
  double request = 0, reply = 0;
};

struct FaultTable {
  std::mutex mu;
  // Set once the spec is loaded and names no method: every call (one per
  // task push on the task channel) then returns without the lock.
  std::atomic<bool> none{false};
  bool loaded = false;
  std::unordered_map<std::string, Probabilities> by_method;
};

FaultTable& Table() {
  static FaultTable table;
  return table;
}

void Parse(const std::string& spec, FaultTable& t) {
  t.by_method.clear();
  for (absl::string_view entry : absl::StrSplit(spec, ',', absl::SkipEmpty())) {
    std::vector<absl::string_view> kv = absl::StrSplit(entry, '=');
    if (kv.size() != 2) continue;
    std::vector<absl::string_view> p = absl::StrSplit(kv[1], ':');
    Probabilities probs;
    if (p.size() != 2 || !absl::SimpleAtod(p[0], &probs.request) ||
        !absl::SimpleAtod(p[1], &probs.reply)) {
      LOG(WARNING) << "ignoring bad LUMEN_RPC_FAULTS entry '" << entry << "'";
      continue;
    }
    t.by_method[std::string(kv[0])] = probs;
  }
  t.loaded = true;
  t.none.store(t.by_method.empty(), std::memory_order_release);
}

}  // namespace

bool ShouldInjectFault(std::string_view method, FaultPoint point) {
  FaultTable& t = Table();
  if (t.none.load(std::memory_order_acquire)) return false;
  std::lock_guard<std::mutex> lock(t.mu);
  if (!t.loaded) {
    const char* env = std::getenv("LUMEN_RPC_FAULTS");
    Parse(env ? env : "", t);
  }
  if (t.by_method.empty()) return false;
  auto it = t.by_method.find(std::string(method));
  if (it == t.by_method.end()) it = t.by_method.find("*");
  if (it == t.by_method.end()) return false;
  double p = point == FaultPoint::kRequest ? it->second.request : it->second.reply;
  thread_local std::mt19937 gen{std::random_device{}()};
  return std::uniform_real_distribution<double>(0, 1)(gen) < p;
}

void SetFaultSpecForTesting(const std::string& spec) {
  FaultTable& t = Table();
  std::lock_guard<std::mutex> lock(t.mu);
  Parse(spec, t);
}

}  // namespace lumen::rpc
