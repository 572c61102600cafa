// common/logging.h
//
// glog set-up shared by every daemon. Daemons log to stderr, which the
// launcher (the `lumen` CLI or the embedded cluster) redirects to
// <session>/logs/<name>.out, so one file per daemon holds everything.
#pragma once

#include <string>

#include "glog/logging.h"

namespace lumen {

// Initializes glog for `program_name` once; later calls are no-ops.
// Logs go to stderr. Verbosity follows GLOG_v / GLOG_minloglevel as usual.
// Also turns off absl::Mutex deadlock tracking (see logging.cc).
void InitLogging(const char* program_name);

}  // namespace lumen
