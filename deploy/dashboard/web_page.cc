#include "deploy/dashboard/web_page.h"

#include <cstdio>

namespace lumen::dashboard {
namespace {

using nlohmann::json;

constexpr char kStyle[] = R"(
body{font-family:sans-serif;margin:1em 2em;color:#222}
nav a{margin-right:1.2em;font-weight:bold}
table{border-collapse:collapse;margin:.5em 0 1.5em}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left;font-size:90%}
th{background:#f0f0f0}
.bar{display:inline-block;width:120px;height:.8em;background:#eee;border:1px solid #aaa;vertical-align:middle}
.bar span{display:block;height:100%;background:#4a90d9}
.FAILED,.DEAD{color:#b00}.SUCCEEDED,.ALIVE,.FINISHED{color:#070}
)";

std::string Str(const json& value) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_null()) return "";
  if (value.is_number_float()) {
    char buffer[32];
    std::snprintf(buffer, sizeof(buffer), "%g", value.get<double>());
    return buffer;
  }
  return value.dump();
}

std::string Cell(const json& value) { return "<td>" + HtmlEscape(Str(value)) + "</td>"; }

std::string StateCell(const std::string& state) {
  return "<td class=\"" + HtmlEscape(state) + "\">" + HtmlEscape(state) + "</td>";
}

std::string Row(const std::vector<std::string>& headers) {
  std::string out = "<tr>";
  for (const auto& header : headers) out += "<th>" + HtmlEscape(header) + "</th>";
  return out + "</tr>\n";
}

// "used / total" with a bar of the used share.
std::string Bar(double used, double total, const std::string& text) {
  const int percent = total > 0 ? static_cast<int>(100 * used / total + 0.5) : 0;
  return "<span class=\"bar\" title=\"" + std::to_string(percent) + "%\"><span style=\"width:" +
         std::to_string(percent) + "%\"></span></span> " + HtmlEscape(text);
}

std::string Amount(double value) { return Str(json(value)); }

std::string ResourceBar(const json& resources, const std::string& name, double scale,
                        const std::string& unit) {
  if (!resources.contains(name)) return "<td></td>";
  const double total = resources[name].value("total", 0.0);
  const double used = total - resources[name].value("available", 0.0);
  return "<td>" + Bar(used, total, Amount(used / scale) + " / " + Amount(total / scale) + unit) +
         "</td>";
}

std::string NodesTable(const json& snapshot, bool workers) {
  std::string out = "<table id=\"nodes\">\n";
  std::vector<std::string> headers = {"node", "ip", "state", "CPU", "memory", "GPU",
                                      "object store"};
  if (workers) headers.push_back("worker pids");
  out += Row(headers);
  constexpr double kGiB = 1024.0 * 1024 * 1024;
  const json nodes = snapshot.value("nodes", json::array());
  for (const json& node : nodes) {
    const json& resources = node["resources"];
    out += "<tr>" + Cell(node["node_id"].get<std::string>() + (node.value("is_head", false) ? " (head)" : "")) +
           Cell(node["ip"]) + StateCell(node["state"]) + ResourceBar(resources, "CPU", 1, "") +
           ResourceBar(resources, "memory", kGiB, " GiB") + ResourceBar(resources, "GPU", 1, "");
    const json& store = node["object_store"];
    if (store.is_object()) {
      const double used = store.value("used", 0.0);
      const double capacity = store.value("capacity", 0.0);
      out += "<td>" + Bar(used, capacity, Amount(used / (1 << 20)) + " / " +
                                              Amount(capacity / (1 << 20)) + " MiB") + "</td>";
    } else {
      out += "<td></td>";
    }
    if (workers) out += Cell(node["worker_pids"]);
    out += "</tr>\n";
  }
  return out + "</table>\n";
}

std::string TotalsTable(const json& snapshot) {
  std::string out = "<table id=\"totals\">\n" + Row({"resource", "used", "total"});
  const json totals = snapshot.value("totals", json::object());
  for (const auto& [name, amounts] : totals.items()) {
    const double total = amounts.value("total", 0.0);
    out += "<tr>" + Cell(name) + Cell(json(total - amounts.value("available", 0.0))) +
           Cell(json(total)) + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string Duration(const json& job) {
  const json start = job.value("start_time", json());
  if (!start.is_number()) return "";
  const json end = job.value("end_time", json());
  const int64_t until = end.is_number() ? end.get<int64_t>() : -1;
  if (until < 0) return "running";
  return Amount((until - start.get<int64_t>()) / 1000.0) + " s";
}

std::string JobsTable(const json& jobs, const json& snapshot, bool logs) {
  std::string out = "<table id=\"jobs\">\n" +
                    Row({"submission id", "status", "entrypoint", "duration", "message"});
  for (const json& job : jobs) {
    std::string id = Str(job["submission_id"]);
    std::string id_cell = logs ? "<td><a href=\"/api/jobs/" + HtmlEscape(id) + "/logs\">" +
                                     HtmlEscape(id) + "</a></td>"
                               : Cell(id);
    out += "<tr>" + id_cell + StateCell(Str(job["status"])) + Cell(job["entrypoint"]) +
           Cell(Duration(job)) + Cell(job["message"]) + "</tr>\n";
  }
  out += "</table>\n<h3>Drivers</h3>\n<table id=\"drivers\">\n" +
         Row({"job id", "driver pid", "state", "program"});
  const json drivers = snapshot.value("drivers", json::array());
  for (const json& driver : drivers) {
    out += "<tr>" + Cell(driver["job_id"]) + Cell(driver["driver_pid"]) +
           StateCell(driver.value("is_dead", false) ? "FINISHED" : "RUNNING") +
           Cell(driver["entrypoint"]) + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string ActorsTable(const json& snapshot) {
  std::string out = "<table id=\"actors\">\n" +
                    Row({"actor id", "class", "name", "state", "node", "pid", "restarts",
                         "death cause"});
  const json actors = snapshot.value("actors", json::array());
  for (const json& actor : actors) {
    out += "<tr>" + Cell(actor["actor_id"]) + Cell(actor["class_name"]) + Cell(actor["name"]) +
           StateCell(Str(actor["state"])) + Cell(actor["node_id"]) + Cell(actor["pid"]) +
           Cell(actor["num_restarts"]) + Cell(actor["death_cause"]) + "</tr>\n";
  }
  return out + "</table>\n";
}

std::string TasksTables(const json& snapshot) {
  const json tasks = snapshot.value("tasks", json::object());
  std::string out = "<table id=\"tasks-by-state\">\n" + Row({"state", "tasks"});
  const json by_state = tasks.value("by_state", json::object());
  for (const auto& [state, count] : by_state.items()) {
    out += "<tr>" + StateCell(state) + Cell(count) + "</tr>\n";
  }
  out += "</table>\n<table id=\"tasks-by-function\">\n" + Row({"function", "tasks by state"});
  const json by_function = tasks.value("by_function", json::object());
  for (const auto& [function, states] : by_function.items()) {
    std::string counts;
    for (const auto& [state, count] : states.items()) {
      counts += (counts.empty() ? "" : ", ") + state + ": " + Str(count);
    }
    out += "<tr>" + Cell(function) + Cell(counts) + "</tr>\n";
  }
  out += "</table>\n<h3>Failed tasks</h3>\n<table id=\"failed-tasks\">\n" +
         Row({"task id", "function", "error type", "error"});
  const json failed = tasks.value("failed", json::array());
  for (const json& task : failed) {
    out += "<tr>" + Cell(task["task_id"]) + Cell(task["function"]) + Cell(task["error_type"]) +
           Cell(task["error_message"]) + "</tr>\n";
  }
  return out + "</table>\n";
}

// JSON inside <script>: no "</script>" can end it early.
std::string ScriptSafe(const std::string& json_text) {
  std::string out;
  for (char c : json_text) out += c == '<' ? std::string("\\u003c") : std::string(1, c);
  return out;
}

// The chart: tasks finished per second and object-store MiB, from the
// embedded history; nothing happens without Chart.js.
std::string Chart(const json& history) {
  return "<h2>Task throughput and object store</h2>\n"
         "<canvas id=\"throughput\" width=\"800\" height=\"220\"></canvas>\n"
         "<script id=\"history\" type=\"application/json\">" +
         ScriptSafe(history.dump()) +
         "</script>\n<script src=\"/static/chart.js\"></script>\n<script>\n"
         "(function(){\n"
         "  if (!window.Chart) return;\n"
         "  var h = JSON.parse(document.getElementById('history').textContent);\n"
         "  var labels = [], rate = [], store = [];\n"
         "  for (var i = 1; i < h.length; i++) {\n"
         "    var dt = (h[i].t - h[i-1].t) / 1000;\n"
         "    labels.push(new Date(h[i].t).toLocaleTimeString());\n"
         "    rate.push(dt > 0 ? Math.max(0, h[i].finished - h[i-1].finished) / dt : 0);\n"
         "    store.push(h[i].store_used / 1048576);\n"
         "  }\n"
         "  new Chart(document.getElementById('throughput'), {type: 'line',\n"
         "    data: {labels: labels, datasets: [\n"
         "      {label: 'tasks finished / s', data: rate, yAxisID: 'y'},\n"
         "      {label: 'object store MiB', data: store, yAxisID: 'y1'}]},\n"
         "    options: {animation: false, scales: {y: {position: 'left'},\n"
         "      y1: {position: 'right', grid: {drawOnChartArea: false}}}}});\n"
         "  document.body.setAttribute('data-chart', 'drawn');\n"
         "})();\n</script>\n";
}

std::string Head(const std::string& title, int refresh_seconds) {
  std::string out = "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n";
  if (refresh_seconds > 0) {
    out += "<meta http-equiv=\"refresh\" content=\"" + std::to_string(refresh_seconds) + "\">\n";
  }
  return out + "<title>" + HtmlEscape(title) + " - Lumen dashboard</title>\n<style>" + kStyle +
         "</style></head>\n";
}

}  // namespace

const std::vector<std::string>& PageNames() {
  static const std::vector<std::string> kPages = {"overview", "jobs", "actors", "tasks", "nodes"};
  return kPages;
}

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string RenderPage(const std::string& page, const json& snapshot, const json& history,
                       const json& jobs, int refresh_seconds) {
  std::string out = Head(page, refresh_seconds) + "<body data-page=\"" + HtmlEscape(page) +
                    "\">\n<nav>";
  for (const std::string& name : PageNames()) {
    out += "<a href=\"/" + (name == "overview" ? std::string() : name) + "\">" + name + "</a>";
  }
  out += "</nav>\n<h1>Lumen: " + HtmlEscape(page) + "</h1>\n";
  if (page == "overview") {
    out += "<h2>Nodes</h2>\n" + NodesTable(snapshot, false) + "<h2>Cluster totals</h2>\n" +
           TotalsTable(snapshot) + "<h2>Jobs</h2>\n" + JobsTable(jobs, snapshot, false) +
           Chart(history);
  } else if (page == "jobs") {
    out += JobsTable(jobs, snapshot, true);
  } else if (page == "actors") {
    out += ActorsTable(snapshot);
  } else if (page == "tasks") {
    out += TasksTables(snapshot);
  } else {
    out += NodesTable(snapshot, true) +
           "<p>Logs of a node's daemons and workers: <code>lumen logs</code> on that node.</p>\n";
  }
  return out + "</body></html>\n";
}

std::string RenderLogin(const std::string& next, const std::string& error) {
  std::string out = Head("login", 0) + "<body data-page=\"login\">\n<h1>Lumen dashboard</h1>\n";
  if (!error.empty()) out += "<p class=\"FAILED\" id=\"error\">" + HtmlEscape(error) + "</p>\n";
  return out +
         "<form method=\"post\" action=\"/login\">\n"
         "<label>Cluster token (~/.lumen/token on the head): "
         "<input type=\"password\" name=\"token\" autofocus></label>\n"
         "<input type=\"hidden\" name=\"next\" value=\"" + HtmlEscape(next) + "\">\n"
         "<button type=\"submit\">Log in</button>\n</form>\n</body></html>\n";
}

}  // namespace lumen::dashboard
