#include "deploy/cli/status_format.h"

#include <cstdio>
#include <map>
#include <set>

namespace lumen::cli {
namespace {

constexpr double kGiB = 1024.0 * 1024.0 * 1024.0;

bool IsBytes(const std::string& resource) {
  return resource == "memory" || resource == "object_store_memory";
}

// CPU, GPU, memory, object_store_memory first, then the rest by name.
// Internal per-node resources ("node:<ip>") are left out, as in `ray status`.
std::vector<std::string> DisplayOrder(const std::map<std::string, double>& totals) {
  std::vector<std::string> order = {"CPU", "GPU", "memory", "object_store_memory"};
  const std::set<std::string> fixed(order.begin(), order.end());
  for (const auto& [name, total] : totals) {
    if (!fixed.count(name) && name.rfind("node:", 0) != 0) order.push_back(name);
  }
  std::vector<std::string> shown;
  for (const auto& name : order) {
    if (totals.count(name) || name == "CPU" || name == "GPU") shown.push_back(name);
  }
  return shown;
}

struct Usage {
  std::map<std::string, double> total;
  std::map<std::string, double> used;
};

Usage UsageOf(const rpc::NodeInfo& node, const rpc::ResourceView* view) {
  Usage usage;
  for (const auto& [name, total] : node.resources_total()) usage.total[name] = total;
  if (view == nullptr) return usage;
  for (const auto& [name, total] : view->total()) usage.total[name] = total;
  for (const auto& [name, total] : usage.total) {
    auto available = view->available().find(name);
    double free = available == view->available().end() ? total : available->second;
    usage.used[name] = total - free;
  }
  return usage;
}

void AppendUsage(const Usage& usage, std::string& out) {
  for (const auto& name : DisplayOrder(usage.total)) {
    auto total = usage.total.find(name);
    auto used = usage.used.find(name);
    out += "    " + FormatUsage(name, used == usage.used.end() ? 0 : used->second,
                                total == usage.total.end() ? 0 : total->second) + "\n";
  }
}

// "{CPU: 1, GPU: 0.5}", by name.
std::string FormatShape(const google::protobuf::Map<std::string, double>& shape) {
  std::map<std::string, double> sorted(shape.begin(), shape.end());
  std::string out;
  for (const auto& [name, amount] : sorted) {
    char number[32];
    std::snprintf(number, sizeof(number), "%g", amount);
    out += (out.empty() ? "" : ", ") + name + ": " + number;
  }
  return "{" + out + "}";
}

std::string HexPrefix(const std::string& binary, size_t bytes) {
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (size_t i = 0; i < binary.size() && i < bytes; ++i) {
    unsigned char c = static_cast<unsigned char>(binary[i]);
    hex += kHex[c >> 4];
    hex += kHex[c & 15];
  }
  return hex;
}

}  // namespace

std::string FormatGiB(double bytes) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f GiB", bytes / kGiB);
  return buf;
}

std::string FormatObjectStore(const rpc::ResourceView& view) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "    object store: %.2f/%.2f GiB used (%llu objects), %.2f GiB spilled (%llu objects)",
                view.object_store_used() / kGiB, view.object_store_capacity() / kGiB,
                static_cast<unsigned long long>(view.object_store_objects()),
                view.spilled_bytes() / kGiB, static_cast<unsigned long long>(view.spilled_objects()));
  return buf;
}

std::string FormatUsage(const std::string& resource, double used, double total) {
  char buf[128];
  if (IsBytes(resource)) {
    std::snprintf(buf, sizeof(buf), "%.2f/%.2f GiB %s", used / kGiB, total / kGiB,
                  resource.c_str());
  } else {
    std::snprintf(buf, sizeof(buf), "%.1f/%.1f %s", used, total, resource.c_str());
  }
  return buf;
}

std::string FormatClusterStatus(const std::string& gcs_address,
                                const std::vector<rpc::NodeInfo>& nodes,
                                const std::vector<rpc::ResourceView>& views) {
  std::map<std::string, const rpc::ResourceView*> view_of;
  for (const auto& view : views) view_of[view.node_id()] = &view;
  int alive = 0;
  int pending = 0;
  // Pending lease requests by shape over the alive nodes: {shape, infeasible} -> count.
  std::map<std::pair<std::string, bool>, int> demands;
  Usage cluster;
  std::string body;
  for (const auto& node : nodes) {
    const bool is_alive = node.state() == rpc::NodeInfo::ALIVE;
    body += "  node " + HexPrefix(node.node_id(), 6) + "  " + node.ip() + ":" +
            std::to_string(node.raylet_port()) + "  " + (is_alive ? "ALIVE" : "DEAD");
    if (!is_alive && !node.death_cause().empty()) body += " (" + node.death_cause() + ")";
    if (node.is_head()) body += "  head";
    body += "\n";
    if (!is_alive) continue;
    ++alive;
    auto view = view_of.find(node.node_id());
    const rpc::ResourceView* v = view == view_of.end() ? nullptr : view->second;
    if (v != nullptr) pending += v->num_pending_tasks();
    if (v != nullptr) {
      for (const auto& demand : v->pending_demands()) {
        demands[{FormatShape(demand.shape()), demand.infeasible()}] += demand.count();
      }
    }
    Usage usage = UsageOf(node, v);
    AppendUsage(usage, body);
    if (v != nullptr && v->has_object_store()) body += FormatObjectStore(*v) + "\n";
    for (const auto& [name, total] : usage.total) cluster.total[name] += total;
    for (const auto& [name, used] : usage.used) cluster.used[name] += used;
  }
  std::string out = "======== Lumen cluster at " + gcs_address + " ========\n";
  out += "Nodes: " + std::to_string(alive) + " alive, " +
         std::to_string(static_cast<int>(nodes.size()) - alive) + " dead\n";
  out += body;
  out += "Total (alive nodes):\n";
  AppendUsage(cluster, out);
  if (pending > 0) {
    out += "Pending: " + std::to_string(pending) + " resource requests waiting for a node\n";
  }
  if (!demands.empty()) out += "Pending demands:\n";
  for (const auto& [key, count] : demands) {
    out += "  " + key.first + ": " + std::to_string(count) + (count == 1 ? " request" : " requests") +
           (key.second ? " (infeasible: no node has these resources)" : "") + "\n";
  }
  return out;
}

}  // namespace lumen::cli
