// worker/interrupt.h
//
// What SIGINT and SIGTERM do to a driver. A signal is not a crash: no stack
// trace. The handler only writes the signal number to a pipe (async-signal
// safe); one watcher thread reads it, runs the cleanup it was given (stop
// the private cluster, remove its session directory), then restores the
// default action and re-sends the signal, so the driver dies promptly with
// the usual status of an interrupted program (128 + signal in a shell)
// however busy its own threads are: submitting, blocked in ray::Get or
// ray::Wait, or blocked by submission backpressure. (Ray raises
// KeyboardInterrupt; a C++ program has no such exception to unwind with.)
// A handler the user installed before ray::Init is left alone.
// Threading: Install once, from ray::Init; the cleanup runs on the watcher
// thread and must not take locks the interrupted threads may hold.
#pragma once

#include <functional>

namespace lumen::worker {

// True once a SIGINT/SIGTERM is being handled: the process is about to
// die, and errors its threads meet meanwhile (the cluster going away under
// a blocked ray::Get) must not surface as exceptions.
bool InterruptInProgress();
// Blocks the calling thread until the interrupt ends the process.
[[noreturn]] void WaitForInterruptToEnd();

// Call before glog installs its crash handlers: remembers the program's own
// SIGTERM action, which glog would otherwise hide.
void RememberSignalActions();
// Installs the handlers where SIGINT/SIGTERM had the default action (for
// SIGTERM: before glog's crash handler; a program's own handler is put
// back) and starts the watcher. Later calls only replace the cleanup.
void InstallInterruptHandlers(std::function<void()> cleanup);

}  // namespace lumen::worker
