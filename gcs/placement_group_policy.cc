#include "gcs/placement_group_policy.h"

#include <algorithm>
#include <numeric>

namespace lumen::gcs {

namespace {

using Amounts = std::map<std::string, double>;
constexpr double kEpsilon = 1e-9;

bool Fits(const Amounts& want, const Amounts& free) {
  for (const auto& [name, amount] : want) {
    if (amount <= 0) continue;
    auto it = free.find(name);
    if (it == free.end() || it->second + kEpsilon < amount) return false;
  }
  return true;
}

void Take(const Amounts& want, Amounts& free) {
  for (const auto& [name, amount] : want) free[name] -= amount;
}

double Size(const Amounts& bundle) {
  double total = 0;
  for (const auto& [name, amount] : bundle) total += amount;
  return total;
}

}  // namespace

std::optional<std::vector<std::string>> ChooseBundleNodes(
    rpc::PlacementGroupInfo::Strategy strategy, const std::vector<Amounts>& bundles,
    const std::vector<rpc::ResourceView>& views, const std::vector<std::string>& placed) {
  std::vector<Amounts> free;
  for (const auto& view : views) free.emplace_back(view.available().begin(), view.available().end());
  const size_t n = views.size();
  std::vector<std::string> chosen(bundles.size());
  std::vector<int> used(n, 0);  // Bundles of the group per node.
  auto is_placed = [&](size_t b) { return b < placed.size() && !placed[b].empty(); };
  for (size_t b = 0; b < bundles.size(); ++b) {
    if (!is_placed(b)) continue;
    chosen[b] = placed[b];
    for (size_t i = 0; i < n; ++i) used[i] += views[i].node_id() == placed[b] ? 1 : 0;
  }

  if (strategy == rpc::PlacementGroupInfo::STRICT_PACK) {
    Amounts sum;
    for (size_t b = 0; b < bundles.size(); ++b) {
      if (is_placed(b)) continue;
      for (const auto& [name, amount] : bundles[b]) sum[name] += amount;
    }
    const std::string* home = nullptr;  // The node of the bundles kept.
    for (size_t b = 0; b < bundles.size() && home == nullptr; ++b) {
      if (is_placed(b)) home = &placed[b];
    }
    for (size_t i = 0; i < n; ++i) {
      if (home != nullptr && views[i].node_id() != *home) continue;
      if (!Fits(sum, free[i])) continue;
      for (size_t b = 0; b < bundles.size(); ++b) {
        if (!is_placed(b)) chosen[b] = views[i].node_id();
      }
      return chosen;
    }
    return std::nullopt;
  }

  std::vector<size_t> order;
  for (size_t b = 0; b < bundles.size(); ++b) {
    if (!is_placed(b)) order.push_back(b);
  }
  if (strategy != rpc::PlacementGroupInfo::PACK) {
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return Size(bundles[a]) > Size(bundles[b]); });
  }
  for (size_t b : order) {
    std::optional<size_t> pick;
    for (size_t i = 0; i < n; ++i) {
      if (!Fits(bundles[b], free[i])) continue;
      switch (strategy) {
        case rpc::PlacementGroupInfo::PACK:
          if (!pick || (used[i] > 0 && used[*pick] == 0)) pick = i;
          break;
        case rpc::PlacementGroupInfo::STRICT_SPREAD:
          if (used[i] == 0 && !pick) pick = i;
          break;
        default:  // SPREAD
          if (!pick || used[i] < used[*pick]) pick = i;
          break;
      }
    }
    if (!pick) return std::nullopt;
    Take(bundles[b], free[*pick]);
    ++used[*pick];
    chosen[b] = views[*pick].node_id();
  }
  return chosen;
}

}  // namespace lumen::gcs
