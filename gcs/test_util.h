// gcs/test_util.h
//
// Small helpers shared by the GCS unit tests (test-only), plus FakeProber:
// a HealthProber that records probes and lets the test answer them.
#pragma once

#include <deque>
#include <string>

#include "common/id.h"
#include "gcs/health_checker.h"
#include "proto/common.pb.h"

namespace lumen::gcs::testing {

inline rpc::NodeInfo MakeNode(int raylet_port = 7000, double cpus = 4) {
  rpc::NodeInfo node;
  node.set_node_id(NodeId::FromRandom().Binary());
  node.set_ip("127.0.0.1");
  node.set_raylet_port(raylet_port);
  (*node.mutable_resources_total())["CPU"] = cpus;
  return node;
}

class FakeProber : public HealthProber {
 public:
  struct Pending {
    std::string node_id;
    int64_t timeout_ms;
    std::function<void(absl::Status)> done;
  };

  void Probe(const rpc::NodeInfo& node, int64_t timeout_ms,
             std::function<void(absl::Status)> done) override {
    pending.push_back({node.node_id(), timeout_ms, std::move(done)});
  }
  void Forget(const std::string& node_id) override { forgotten.push_back(node_id); }

  // Answers the oldest pending probe with `status`; returns its node id.
  std::string AnswerNext(absl::Status status = absl::OkStatus()) {
    Pending p = std::move(pending.front());
    pending.pop_front();
    p.done(status);
    return p.node_id;
  }
  // Answers every pending probe with `status`.
  void AnswerAll(absl::Status status = absl::OkStatus()) {
    while (!pending.empty()) AnswerNext(status);
  }

  std::deque<Pending> pending;
  std::vector<std::string> forgotten;
};

}  // namespace lumen::gcs::testing
