#include "raylet/worker_ports.h"

namespace lumen::raylet {

WorkerPortAllocator::WorkerPortAllocator(int min_port, int max_port, Probe probe)
    : min_port_(min_port), max_port_(max_port), probe_(std::move(probe)), next_(min_port) {}

std::optional<int> WorkerPortAllocator::NextFree(int skip) {
  const int size = max_port_ - min_port_ + 1;
  for (int i = 0; i < size; ++i) {
    const int port = min_port_ + (next_ - min_port_ + i) % size;
    if (port == skip || held_.contains(port)) continue;
    if (probe_ && !probe_(port)) continue;
    next_ = port == max_port_ ? min_port_ : port + 1;
    return port;
  }
  return std::nullopt;
}

std::optional<WorkerPorts> WorkerPortAllocator::Take() {
  if (!enabled()) return WorkerPorts{};
  const int start = next_;
  std::optional<int> grpc = NextFree(/*skip=*/0);
  std::optional<int> task = grpc ? NextFree(/*skip=*/*grpc) : std::nullopt;
  if (!grpc || !task) {
    next_ = start;
    return std::nullopt;
  }
  held_.insert(*grpc);
  held_.insert(*task);
  return WorkerPorts{*grpc, *task};
}

void WorkerPortAllocator::Assign(pid_t pid, const WorkerPorts& ports) {
  if (enabled()) by_pid_[pid] = ports;
}

void WorkerPortAllocator::GiveBack(const WorkerPorts& ports) {
  held_.erase(ports.grpc);
  held_.erase(ports.task_channel);
}

void WorkerPortAllocator::ReleaseOf(pid_t pid) {
  auto it = by_pid_.find(pid);
  if (it == by_pid_.end()) return;
  GiveBack(it->second);
  by_pid_.erase(it);
}

std::string WorkerPortAllocator::RangeText() const {
  return std::to_string(min_port_) + "-" + std::to_string(max_port_);
}

}  // namespace lumen::raylet
