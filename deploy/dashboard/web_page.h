// deploy/dashboard/web_page.h
//
// The dashboard's web pages, rendered on the server from a ClusterView
// snapshot: plain HTML tables that read without JavaScript and refresh
// themselves (<meta http-equiv="refresh">), plus a Chart.js chart of task
// throughput and object-store use over the last minutes, drawn from the
// history embedded in the page when /static/chart.js (Debian's
// libjs-chart.js, served by the dashboard) loads. No build step, nothing
// fetched from elsewhere. Pages: overview (nodes with CPU, memory, GPU and
// object-store bars, cluster totals, jobs, the chart), jobs, actors, tasks,
// nodes. Pure functions of their inputs; every value is HTML-escaped.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lumen::dashboard {

// The page names, in the order of the navigation bar.
const std::vector<std::string>& PageNames();

// `page` is one of PageNames(); `jobs` is the list GET /api/jobs/ gives.
std::string RenderPage(const std::string& page, const nlohmann::json& snapshot,
                       const nlohmann::json& history, const nlohmann::json& jobs,
                       int refresh_seconds);

// The login form: a password field for the cluster token, posted to
// /login with `next` (the page to go to). `error` is shown when not empty.
std::string RenderLogin(const std::string& next, const std::string& error);

std::string HtmlEscape(const std::string& text);

}  // namespace lumen::dashboard
