// worker/local_runtime_internal.h
//
// What local_runtime.cc and local_actors.cc share, and nothing else
// includes: the per-thread stack of running calls and the wording of
// errors. Threading: t_frames is per thread; the rest is pure.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "worker/local_runtime.h"

namespace lumen::worker::local_internal {

// Thrown by ray::ExitActor() in an actor's call; deliberately not a
// std::exception, so that user code catching those does not stop it.
struct ActorExit {};

// The calls this thread is running, innermost last: the actor of an
// actor's call, or null for a task.
extern thread_local std::vector<const void*> t_frames;
class Frame {
 public:
  explicit Frame(const void* actor) { t_frames.push_back(actor); }
  ~Frame() { t_frames.pop_back(); }
  Frame(const Frame&) = delete;
  Frame& operator=(const Frame&) = delete;
};

// "F (pid=N, local mode)", where a worker says "F (pid=N, ip=A)".
std::string Where(const std::string& function_name);
LocalRuntime::Outcome Error(LocalRuntime::ErrorKind kind, std::string message);
// The TASK_EXCEPTION of a worker: "task F (pid=N, local mode) threw T: what".
LocalRuntime::Outcome TaskThrew(const std::string& function_name, const std::string& type,
                                const std::string& what);
// Runs `call`: its result, or what it threw as TaskThrew. ActorExit passes.
LocalRuntime::Outcome RunUserCode(const std::string& function_name,
                                  const std::function<std::string()>& call);

}  // namespace lumen::worker::local_internal
