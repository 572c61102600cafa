// raylet/fake_gcs_client.h
//
// A GcsClient for unit tests: records every call; registrations and
// resource reports wait until the test answers them (Answer*), job ends and
// worker failures are answered by the test through their pending callbacks
// (AnswerNext), or at once with `auto_answer` when it is set.
// Threading: one test thread.
#pragma once

#include <catch2/catch.hpp>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "raylet/gcs_client.h"

namespace lumen::raylet {

class FakeGcsClient : public GcsClient {
 public:
  void RegisterNode(const rpc::RegisterNodeRequest& request, int64_t timeout_ms,
                    StatusCallback done) override {
    ++registers;
    last_register = request;
    last_timeout_ms = timeout_ms;
    pending_register = std::move(done);
  }
  void ReportResources(const rpc::ResourceView& view, int64_t, ReportCallback done) override {
    reports.push_back(view);
    pending_report = std::move(done);
  }
  absl::Status UnregisterNode(const NodeId&, const std::string& reason, int64_t) override {
    unregister_reason = reason;
    return absl::OkStatus();
  }
  void MarkJobFinished(const JobId& job, int64_t, StatusCallback done) override {
    finished_jobs.push_back(job);
    Pend(std::move(done));
  }
  void ReportWorkerFailure(const rpc::ReportWorkerFailureRequest& request, int64_t,
                           StatusCallback done) override {
    worker_failures.push_back(request);
    Pend(std::move(done));
  }

  // Answered at once from `all_nodes` when `serve_nodes` is set; else
  // Unimplemented, as GcsClient's own.
  void GetAllNodes(int64_t, NodesCallback done) override {
    ++node_lists;
    if (!serve_nodes) return done(absl::UnimplementedError("GetAllNodes"), {});
    done(absl::OkStatus(), all_nodes);
  }

  void AnswerRegister(absl::Status st) {
    REQUIRE(pending_register);
    auto done = std::move(pending_register);
    pending_register = nullptr;
    done(st);
  }
  void AnswerReport(absl::Status st, bool unknown = false) {
    REQUIRE(pending_report);
    auto done = std::move(pending_report);
    pending_report = nullptr;
    done(st, unknown);
  }
  // Answers the oldest unanswered MarkJobFinished / ReportWorkerFailure.
  void AnswerNext(absl::Status st) {
    REQUIRE_FALSE(pending_calls.empty());
    auto done = std::move(pending_calls.front());
    pending_calls.pop_front();
    done(st);
  }

  rpc::RegisterNodeRequest last_register;
  int registers = 0;
  int64_t last_timeout_ms = 0;
  std::vector<rpc::ResourceView> reports;
  StatusCallback pending_register;
  ReportCallback pending_report;
  std::string unregister_reason;
  std::vector<JobId> finished_jobs;
  std::vector<rpc::ReportWorkerFailureRequest> worker_failures;
  std::deque<StatusCallback> pending_calls;
  std::optional<absl::Status> auto_answer;  // Set: job ends and failures are answered at once.
  bool serve_nodes = false;
  std::vector<rpc::NodeInfo> all_nodes;
  int node_lists = 0;

 private:
  void Pend(StatusCallback done) {
    if (auto_answer) {
      done(*auto_answer);
      return;
    }
    pending_calls.push_back(std::move(done));
  }
};

}  // namespace lumen::raylet
