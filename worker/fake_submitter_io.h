// worker/fake_submitter_io.h
//
// Fakes of TaskSubmitter's seams for unit tests. Nothing happens on its
// own: requests and pushes are recorded, and the test answers them (grant,
// refuse, reply, fail) when it chooses, on its own thread.
#pragma once

#include <deque>
#include <string>
#include <utility>
#include <vector>

#include "worker/task_submitter_io.h"

namespace lumen::worker {

class FakeLeaseClient : public LeaseClient {
 public:
  struct Request {
    rpc::RequestWorkerLeaseRequest request;
    LeaseCallback callback;
    std::string raylet;  // Empty: the local raylet.
  };

  void RequestWorkerLease(const std::string& raylet, const rpc::RequestWorkerLeaseRequest& request,
                          LeaseCallback callback) override {
    requests.push_back({request, std::move(callback), raylet});
  }
  void ReturnWorker(const std::string& raylet, const rpc::ReturnWorkerRequest& request) override {
    returns.push_back(request);
    return_raylets.push_back(raylet);
  }

  // Answers the oldest open request with a spillback to `ip`:`port`.
  void Spill(const std::string& ip, int port) {
    rpc::RequestWorkerLeaseReply reply;
    reply.mutable_retry_at_raylet()->set_ip(ip);
    reply.mutable_retry_at_raylet()->set_port(port);
    Answer(absl::OkStatus(), std::move(reply));
  }

  // Grants the oldest open request: worker `port` on 127.0.0.1, `lease_id`.
  void Grant(int64_t lease_id, int port) {
    rpc::RequestWorkerLeaseReply reply;
    reply.set_lease_id(lease_id);
    reply.mutable_worker_address()->set_ip("127.0.0.1");
    reply.mutable_worker_address()->set_port(port);
    reply.set_worker_pid(port);
    Answer(absl::OkStatus(), std::move(reply));
  }
  // Refuses the oldest open request.
  void Refuse(const std::string& why) {
    rpc::RequestWorkerLeaseReply reply;
    reply.set_rejected(true);
    reply.set_error(why);
    Answer(absl::OkStatus(), std::move(reply));
  }

  // Fails the oldest open request as the RPC would (raylet gone, bad request).
  void FailWith(absl::Status status) { Answer(std::move(status), rpc::RequestWorkerLeaseReply()); }

  std::deque<Request> requests;
  std::vector<rpc::ReturnWorkerRequest> returns;
  std::vector<std::string> return_raylets;  // Where each of `returns` went.

 private:
  void Answer(absl::Status status, rpc::RequestWorkerLeaseReply&& reply) {
    Request next = std::move(requests.front());
    requests.pop_front();
    next.callback(status, std::move(reply));
  }
};

class FakeTaskPusher : public TaskPusher {
 public:
  struct Push {
    rpc::Address worker;
    rpc::PushTasksRequest request;
    PushCallback callback;
  };

  void Connect(const rpc::Address& worker, ConnectCallback callback) override {
    callback(std::make_shared<FakeConnection>(this, worker));
  }
  void Forget(const rpc::Address& worker) override { forgotten.push_back(worker); }

  // Answers the oldest open push: every task returns `value` (inline),
  // reporting `exec_micros` of run time.
  void Reply(const std::string& value, int64_t exec_micros = 10) {
    Push next = std::move(pushes.front());
    pushes.pop_front();
    rpc::PushTasksReply reply;
    for (const auto& task : next.request.tasks()) {
      rpc::PushTaskReply* one = reply.add_replies();
      one->set_exec_micros(exec_micros);
      rpc::ReturnObject* ret = one->add_returns();
      ret->set_object_id(task.spec().task_id());
      ret->set_data(value);
    }
    next.callback(absl::OkStatus(), std::move(reply));
  }
  // Fails the oldest open push as a dead worker would.
  void Fail() {
    Push next = std::move(pushes.front());
    pushes.pop_front();
    next.callback(absl::UnavailableError("connection to the worker broke"), rpc::PushTasksReply());
  }

  std::deque<Push> pushes;
  std::vector<rpc::Address> forgotten;

 private:
  class FakeConnection : public Connection {
   public:
    FakeConnection(FakeTaskPusher* pusher, rpc::Address worker)
        : pusher_(pusher), worker_(std::move(worker)) {}
    void Push(const rpc::PushTasksRequest& request, PushCallback callback) override {
      pusher_->pushes.push_back({worker_, request, std::move(callback)});
    }

   private:
    FakeTaskPusher* pusher_;
    rpc::Address worker_;
  };
};

}  // namespace lumen::worker
