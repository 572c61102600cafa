// lumen-worker: the worker process of jobs whose code lives in shared
// libraries (RayConfig::code_search_path). Loads every library on
// LUMEN_CODE_SEARCH_PATH, then serves tasks until told to exit.
#include <cstdio>

#include "absl/strings/str_split.h"
#include "worker/function_registry.h"
#include "worker/runtime.h"

int main() {
  const char* path = std::getenv("LUMEN_CODE_SEARCH_PATH");
  std::vector<std::string> paths = absl::StrSplit(path ? path : "", ':', absl::SkipEmpty());
  absl::Status st = lumen::worker::FunctionRegistry::Instance().LoadLibraries(paths);
  if (!st.ok()) {
    std::fprintf(stderr, "lumen-worker: %s\n", std::string(st.message()).c_str());
    return 1;
  }
  lumen::worker::RunWorkerProcess();
}
