// include/ray/api/wait_result.h
#pragma once

#include <list>

#include "ray/api/object_ref.h"

namespace ray {

// What ray::Wait returns: the refs that were ready and those that were not,
// each in the order given (std::list, as in Ray's C++ API).
template <typename T>
class WaitResult {
 public:
  WaitResult() = default;
  WaitResult(std::list<ObjectRef<T>>&& ready_objects, std::list<ObjectRef<T>>&& unready_objects)
      : ready(std::move(ready_objects)), unready(std::move(unready_objects)) {}
  std::list<ObjectRef<T>> ready;
  std::list<ObjectRef<T>> unready;
};

}  // namespace ray
