// tests/tasks_harness.h
//
// main() for task integration tests: a Catch2 session between ray::Init
// (a private local cluster with the given CPUs and GPUs, in a private temp
// dir; GPUs need no hardware: the raylet takes the count it is given) and
// ray::Shutdown. When the raylet re-runs the test binary as a worker, it
// serves tasks instead. After Shutdown it checks that every worker pid the
// tests reported (RecordWorkerPid) is gone.
//
// Tasks and the driver share the machine, so they coordinate through files:
// a test waits for an event (a file appearing, every party arriving), never
// sleeps for something to happen. The waits poll with a deadline that only
// a failing test reaches.
#pragma once

#include <sys/types.h>

#include <functional>
#include <string>

namespace lumen::testing {

int RunTaskTests(int argc, char** argv, int num_cpus, int num_gpus = 0);
void RecordWorkerPid(pid_t pid);

// A fresh empty directory for the events of one test (driver side).
std::string MakeEventDir(const std::string& name);
// Creates `path` holding `content`, all at once (written aside, renamed).
void SignalFile(const std::string& path, const std::string& content = "");
// Waits until `path` exists; false if `timeout_ms` passed first.
bool WaitForFile(const std::string& path, int timeout_ms);
// Registers one arrival in `dir` and waits until `parties` have arrived
// there; false if `timeout_ms` passed first. Tasks that all return true
// were all running at one moment.
bool Rendezvous(const std::string& dir, int parties, int timeout_ms);
// The what() of the std::exception `call` throws, or "did not throw".
std::string ErrorMessageOf(const std::function<void()>& call);

}  // namespace lumen::testing
