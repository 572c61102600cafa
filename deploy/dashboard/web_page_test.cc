#include "deploy/dashboard/web_page.h"

#include <catch2/catch.hpp>

namespace lumen::dashboard {
namespace {

using nlohmann::json;

bool Has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

json Snapshot() {
  return json::parse(R"({
    "nodes": [{"node_id": "ab12", "ip": "10.0.0.1", "state": "ALIVE", "is_head": true,
               "death_cause": "", "worker_pids": [41, 42],
               "resources": {"CPU": {"total": 4, "available": 1}},
               "object_store": {"capacity": 1048576, "used": 524288, "objects": 3}}],
    "totals": {"CPU": {"total": 4, "available": 1}},
    "drivers": [{"job_id": "01000000", "driver_pid": 7, "is_dead": false, "entrypoint": "d"}],
    "actors": [{"actor_id": "cc", "class_name": "Counter<b>", "name": "", "state": "ALIVE",
                "node_id": "ab12", "pid": 9, "num_restarts": 1, "death_cause": ""}],
    "tasks": {"by_state": {"FINISHED": 5, "FAILED": 1},
              "by_function": {"Square": {"FINISHED": 5}, "Fails": {"FAILED": 1}},
              "failed": [{"task_id": "t1", "function": "Fails", "error_type": "TASK_EXCEPTION",
                          "error_message": "boom </script>"}],
              "finished": 5}})");
}

TEST_CASE("each page shows its tables, escaped") {
  const json jobs = json::parse(R"([{"submission_id": "job-1", "status": "RUNNING",
      "entrypoint": "./d", "message": "", "start_time": 1000, "end_time": null}])");
  const json history = json::parse(R"([{"t": 1, "finished": 0, "store_used": 0}])");
  const std::string overview = RenderPage("overview", Snapshot(), history, jobs, 5);
  CHECK(Has(overview, "ab12 (head)"));
  CHECK(Has(overview, "3 / 4"));  // CPU used / total.
  CHECK(Has(overview, "0.5 / 1 MiB"));
  CHECK(Has(overview, "job-1"));
  CHECK(Has(overview, "http-equiv=\"refresh\" content=\"5\""));
  CHECK(Has(overview, "/static/chart.js"));
  const std::string actors = RenderPage("actors", Snapshot(), history, jobs, 5);
  CHECK(Has(actors, "Counter&lt;b&gt;"));
  CHECK(!Has(actors, "Counter<b>"));
  const std::string tasks = RenderPage("tasks", Snapshot(), history, jobs, 5);
  CHECK(Has(tasks, "Square"));
  CHECK(Has(tasks, "FINISHED: 5"));
  CHECK(Has(tasks, "boom &lt;/script&gt;"));
  CHECK(Has(RenderPage("nodes", Snapshot(), history, jobs, 5), "[41,42]"));
  CHECK(Has(RenderPage("jobs", Snapshot(), history, jobs, 5), "/api/jobs/job-1/logs"));
}

TEST_CASE("the login form keeps where to go and shows an error") {
  const std::string page = RenderLogin("/actors", "wrong cluster token");
  CHECK(Has(page, "name=\"next\" value=\"/actors\""));
  CHECK(Has(page, "wrong cluster token"));
  CHECK(Has(page, "type=\"password\" name=\"token\""));
  CHECK(HtmlEscape("<a href='x'>&") == "&lt;a href=&#39;x&#39;&gt;&amp;");
}

}  // namespace
}  // namespace lumen::dashboard
