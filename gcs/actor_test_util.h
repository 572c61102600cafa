// gcs/actor_test_util.h
//
// FakeActorRpc (test-only): an ActorRpc that records lease requests,
// returns and creation pushes, and lets the test answer them by hand
// (the real one answers later on the loop; the fake answers when told).
#pragma once

#include <deque>
#include <string>
#include <vector>

#include "common/id.h"
#include "gcs/actor_rpc.h"

namespace lumen::gcs::testing {

class FakeActorRpc : public ActorRpc {
 public:
  struct Lease {
    rpc::NodeInfo node;
    rpc::RequestWorkerLeaseRequest request;
    LeaseDone done;
  };
  struct Push {
    rpc::Address worker;
    rpc::TaskSpec spec;
    PushDone done;
  };
  struct Return {
    std::string node_id;
    int64_t lease_id;
    bool worker_exiting;
  };

  void RequestWorkerLease(const rpc::NodeInfo& node, const rpc::RequestWorkerLeaseRequest& request,
                          LeaseDone done) override {
    request_ids.push_back(request.request_id());
    leases.push_back({node, request, std::move(done)});
  }
  void ReturnWorker(const rpc::NodeInfo& node, int64_t lease_id, bool worker_exiting) override {
    returns.push_back({node.node_id(), lease_id, worker_exiting});
  }
  void PushCreationTask(const rpc::Address& worker, const rpc::TaskSpec& spec,
                        PushDone done) override {
    pushes.push_back({worker, spec, std::move(done)});
  }
  void ForgetNode(const std::string& node_id) override { forgotten.push_back(node_id); }

  // Grants the oldest lease request a worker; returns the worker's id.
  std::string GrantNext(int pid = 4242) {
    Lease lease = TakeLease();
    rpc::RequestWorkerLeaseReply reply;
    std::string worker_id = WorkerId::FromRandom().Binary();
    reply.mutable_worker_address()->set_ip(lease.node.ip());
    reply.mutable_worker_address()->set_port(30000 + static_cast<int>(next_lease_id));
    reply.mutable_worker_address()->set_node_id(lease.node.node_id());
    reply.mutable_worker_address()->set_worker_id(worker_id);
    reply.set_lease_id(next_lease_id++);
    reply.set_worker_pid(pid);
    lease.done(absl::OkStatus(), std::move(reply));
    return worker_id;
  }
  void AnswerNextLease(absl::Status status, rpc::RequestWorkerLeaseReply reply = {}) {
    TakeLease().done(std::move(status), std::move(reply));
  }
  // Answers the oldest creation push: the factory ran (type NONE) or failed.
  void AnswerNextPush(rpc::ErrorInfo error = {}, absl::Status status = absl::OkStatus()) {
    Push push = std::move(pushes.front());
    pushes.pop_front();
    rpc::PushTasksReply reply;
    *reply.add_replies()->mutable_error() = std::move(error);
    push.done(std::move(status), std::move(reply));
  }

  std::deque<Lease> leases;
  std::vector<int64_t> request_ids;  // Of every lease request, in order.
  std::deque<Push> pushes;
  std::vector<Return> returns;
  std::vector<std::string> forgotten;
  int64_t next_lease_id = 1;

 private:
  Lease TakeLease() {
    Lease lease = std::move(leases.front());
    leases.pop_front();
    return lease;
  }
};

}  // namespace lumen::gcs::testing
