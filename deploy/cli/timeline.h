// deploy/cli/timeline.h
//
// `lumen timeline`: the GCS's task entries as a Chrome trace (the trace
// event format that chrome://tracing and Perfetto open): a JSON object
// whose "traceEvents" hold, per task attempt that ran to an end, one
// complete slice (ph "X": ts and dur in microseconds) on the row of the
// worker that ran it (pid = tid = the worker's pid), named after the task,
// with its ids and state in "args"; a flow arrow (ph "s" on the submitter's
// row at submission, ph "f" on the worker's row at the start) from the
// caller to the executor; and "M" metadata events naming each row. A slice
// starts when the worker began running it (RUNNING), else when it was
// pushed (SUBMITTED_TO_WORKER), and ends at FINISHED/FAILED; tasks that have
// not ended are left out. Pure; thread-safe.
#pragma once

#include <vector>

#include "nlohmann/json.hpp"
#include "proto/task_events.pb.h"

namespace lumen::cli {

nlohmann::json ChromeTrace(const std::vector<rpc::TaskInfoEntry>& tasks);

}  // namespace lumen::cli
