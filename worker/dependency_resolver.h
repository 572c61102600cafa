// worker/dependency_resolver.h
//
// DependencyResolver holds a task back until the ObjectRef arguments this
// process owns are ready in its memory store (docs/workers.md, "How a task
// runs", step 2). Then small values (those the store holds inline) are
// copied into the task and the argument marked a value, keeping the
// object id so the submission's reference can be dropped; arguments in
// plasma stay references, which the executing worker reads from the store.
// Arguments owned by other processes are left as they are: the executor
// asks their owners. An argument that holds an error fails the task with
// that error without running it.
//
// Cost: one store lookup per argument. A task waits on one missing
// argument at a time (an OnReady callback); the others are usually ready
// by the time it comes back.
// Threading: the owner's EventLoop only (Resolve is called, and the
// callbacks run, there). The task's references on its arguments, taken at
// submission, keep them from being erased while it waits.
#pragma once

#include <functional>
#include <string>

#include "common/event_loop.h"
#include "proto/common.pb.h"
#include "worker/memory_store.h"

namespace lumen::worker {

class DependencyResolver {
 public:
  struct Callbacks {
    // Every owned argument is ready; `had_refs`: the task had ObjectRef
    // arguments at all (only those waited: the task-event "args ready").
    std::function<void(rpc::TaskSpec&& spec, bool had_refs)> on_resolved;
    // An owned argument holds `error`: the task fails with it.
    std::function<void(rpc::TaskSpec&& spec, const rpc::ErrorInfo& error)> on_failed;
  };

  // `self`: this process's binary WorkerId (the owner named in the refs it
  // owns). `loop` and `store` must outlive this.
  DependencyResolver(EventLoop& loop, MemoryStore& store, std::string self, Callbacks callbacks)
      : loop_(loop), store_(store), self_(std::move(self)), callbacks_(std::move(callbacks)) {}

  void Resolve(rpc::TaskSpec&& spec);

 private:
  EventLoop& loop_;
  MemoryStore& store_;
  const std::string self_;
  const Callbacks callbacks_;
};

}  // namespace lumen::worker
