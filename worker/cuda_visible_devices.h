// worker/cuda_visible_devices.h
//
// CUDA_VISIBLE_DEVICES for the tasks a worker runs: TaskExecutor points it
// at each task's GPUs before the task starts. CUDA and user code read it
// from the environment, so the environment is where it has to change.
//
// Threading, and why this is race-free. The variable changes while other
// threads of the worker (gRPC, the event loop, log forwarding, libc itself,
// user threads) may call getenv, which in glibc takes no lock. glibc's
// setenv (stdlib/setenv.c) is safe against such readers in one case only:
// when the name is already in the environment, it stores one pointer into
// that name's slot (under glibc's own lock) and never frees the old string
// (glibc keeps every string setenv made, for reuse), so a reader gets the
// old value or the new one. Adding a name reallocs the array, freeing the
// one a reader may be scanning; unsetenv shifts the later entries down, so
// a reader can skip an unrelated name. A mutex taken by Lumen's own getenv
// callers would not help: gRPC, libc, CUDA and user code read without it.
// Hence ClaimCudaVisibleDevices makes the variable exist while the process
// still has one thread (a static initializer does it in worker processes,
// before main), and SetCudaVisibleDevices afterwards only overwrites it.
// Nothing in a worker adds or removes environment variables once threads
// run.
//
// The price: a worker started without the variable cannot make it unset
// again after a GPU task, so there tasks without GPUs see "" (no device),
// as Ray's tasks with num_gpus=0 do. A worker started with the variable
// gives such tasks its inherited value.
#pragma once

#include <cstdint>
#include <string>

#include "absl/types/span.h"

namespace lumen::worker {

// Makes CUDA_VISIBLE_DEVICES exist ("" when unset). Call only while the
// process has a single thread.
void ClaimCudaVisibleDevices();

// The value for a task holding the raylet's GPU indices `gpu_ids`, in a
// worker that inherited `inherited` ("" when none). Index i is the i-th
// entry of the inherited list (the raylet counted those devices: with
// "2,3", index 0 is device 2); an index past the list is a device id as
// is. Without GPUs: `inherited`.
std::string VisibleDevicesForTask(const std::string& inherited, absl::Span<const int32_t> gpu_ids);

// Overwrites CUDA_VISIBLE_DEVICES with `value` (nothing to do when it
// holds it already). Should the variable be missing (never claimed, or
// removed by user code), it is added anyway, racing with concurrent getenv
// calls, and a warning is logged once.
void SetCudaVisibleDevices(const std::string& value);

}  // namespace lumen::worker
