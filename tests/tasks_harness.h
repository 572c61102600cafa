// tests/tasks_harness.h
//
// main() for task integration tests: a Catch2 session between ray::Init
// (a private local cluster with the given CPUs and GPUs, in a private temp
// dir; GPUs need no hardware: the raylet takes the count it is given) and
// ray::Shutdown. When the raylet re-runs the test binary as a worker, it
// serves tasks instead. After Shutdown it checks that every worker pid the
// tests reported (RecordWorkerPid) is gone.
#pragma once

#include <sys/types.h>

namespace lumen::testing {

int RunTaskTests(int argc, char** argv, int num_cpus, int num_gpus = 0);
void RecordWorkerPid(pid_t pid);

}  // namespace lumen::testing
