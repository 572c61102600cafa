#include "deploy/dashboard/job_info.h"

#include <signal.h>

#include <catch2/catch.hpp>

namespace lumen::dashboard {
namespace {

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST_CASE("a submit request with every supported field") {
  auto job = ParseSubmitRequest(R"({
    "entrypoint": "./driver --x", "submission_id": "my-job_1.2",
    "runtime_env": {"env_vars": {"A": "1"}, "working_dir": "/tmp"},
    "metadata": {"owner": "me"}, "entrypoint_num_cpus": 1.5, "entrypoint_num_gpus": 0,
    "entrypoint_resources": {"special": 2}})");
  REQUIRE(job.ok());
  CHECK(job->entrypoint == "./driver --x");
  CHECK(job->submission_id == "my-job_1.2");
  CHECK(job->env_vars.at("A") == "1");
  CHECK(job->working_dir == "/tmp");
  CHECK(job->metadata.at("owner") == "me");
  CHECK(*job->entrypoint_num_cpus == 1.5);
  CHECK(*job->entrypoint_num_gpus == 0);
  CHECK(!job->entrypoint_memory.has_value());
  CHECK(job->entrypoint_resources.at("special") == 2);
}

TEST_CASE("bad submit requests are refused with a message saying why") {
  struct Case {
    const char* body;
    const char* says;
  };
  const Case cases[] = {
      {R"({"entrypoint": )", "malformed JSON body"},
      {"[1, 2]", "must be a JSON object"},
      {"{}", "entrypoint"},
      {R"({"entrypoint": ""})", "entrypoint"},
      {R"({"entrypoint": "x", "submission_id": "a/b"})", "must be 1 to 128"},
      {R"({"entrypoint": "x", "submission_id": ".."})", "must be 1 to 128"},
      {R"({"entrypoint": "x", "runtime_env": {"pip": ["numpy"]}})", "\"pip\" is not supported"},
      {R"({"entrypoint": "x", "runtime_env": {"working_dir": "relative"}})", "absolute"},
      {R"({"entrypoint": "x", "runtime_env": {"env_vars": {"A": 1}}})", "must be a string"},
      {R"({"entrypoint": "x", "entrypoint_num_cpus": -1})", "non-negative"},
      {R"({"entrypoint": "x", "entrypoint_resources": {"r": "a"}})", "non-negative"},
      {R"({"entrypoint": "x", "colour": "red"})", "unknown field \"colour\""},
      {R"({"entrypoint": "x", "submission_id": "a", "job_id": "b"})", "differ"},
  };
  for (const Case& c : cases) {
    INFO(c.body);
    auto job = ParseSubmitRequest(c.body);
    REQUIRE(absl::IsInvalidArgument(job.status()));
    CHECK(Has(std::string(job.status().message()), c.says));
  }
}

TEST_CASE("a job's JSON goes to the store and back unchanged") {
  JobInfo job;
  job.submission_id = "raysubmit_x";
  job.entrypoint = "echo hi";
  job.status = JobStatus::kFailed;
  job.message = "Job entrypoint command failed with exit code 3";
  job.start_time_ms = 1000;
  job.end_time_ms = 2000;
  job.metadata = {{"k", "v"}};
  job.env_vars = {{"A", "1"}};
  job.working_dir = "/w";
  job.entrypoint_num_cpus = 2;
  job.driver_exit_code = 3;
  job.supervisor_pid = 42;
  job.log_path = "/s/logs/job-driver-raysubmit_x.log";
  auto back = JobFromJson(JobToJson(job).dump());
  REQUIRE(back.ok());
  CHECK(JobToJson(*back) == JobToJson(job));
  CHECK(JobToJson(job)["status"] == "FAILED");
  CHECK(JobToJson(job)["runtime_env"]["working_dir"] == "/w");
  CHECK(JobFromJson("{}").status().code() == absl::StatusCode::kDataLoss);
}

TEST_CASE("an exit is described by its code or its signal") {
  int code = -1;
  CHECK(DescribeExit(0, &code) == "Job finished successfully.");
  CHECK(code == 0);
  CHECK(Has(DescribeExit(7 << 8, &code), "exit code 7"));
  CHECK(code == 7);
  CHECK(Has(DescribeExit(SIGKILL, &code), "signal 9"));
  CHECK(code == 128 + SIGKILL);
}

TEST_CASE("statuses and ids") {
  CHECK(IsTerminal(JobStatus::kStopped));
  CHECK(!IsTerminal(JobStatus::kRunning));
  CHECK(*ParseJobStatus("SUCCEEDED") == JobStatus::kSucceeded);
  CHECK(!ParseJobStatus("DONE").ok());
  const std::string id = NewSubmissionId();
  CHECK(id.rfind("raysubmit_", 0) == 0);
  CHECK(id.size() == 26);
  CHECK(CheckSubmissionId(id).ok());
  CHECK(NewSubmissionId() != id);
}

}  // namespace
}  // namespace lumen::dashboard
