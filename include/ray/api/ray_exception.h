// include/ray/api/ray_exception.h
//
// The exceptions a Lumen program sees, named as in Ray's C++ API. Every one
// derives from ray::internal::RayException (a std::exception).
#pragma once

#include <exception>
#include <string>

namespace ray {
namespace internal {

class RayException : public std::exception {
 public:
  explicit RayException(const std::string& msg) : msg_(msg) {}
  const char* what() const noexcept override { return msg_.c_str(); }
  std::string msg_;
};

// The task's function threw; what() names the original type, message,
// function and the pid of the worker that ran it.
class RayTaskException : public RayException {
 public:
  using RayException::RayException;
};

// The worker running the task died, and retries ran out.
class RayWorkerException : public RayException {
 public:
  using RayException::RayException;
};

class RayActorException : public RayException {
 public:
  using RayException::RayException;
};

class UnreconstructableException : public RayException {
 public:
  using RayException::RayException;
};

// Lumen (Ray's OwnerDiedError): the process that owned the object died,
// and the object was lost with it. what() starts with "owner died".
class OwnerDiedException : public UnreconstructableException {
 public:
  using UnreconstructableException::UnreconstructableException;
};

// No remote function of that name was registered (RAY_REMOTE) in the
// worker's code.
class RayFunctionNotFound : public RayException {
 public:
  using RayException::RayException;
};

class RayRuntimeEnvException : public RayException {
 public:
  using RayException::RayException;
};

// Get(..., timeout_ms) gave up before the object was ready.
class RayTimeoutException : public RayException {
 public:
  using RayException::RayException;
};

}  // namespace internal
}  // namespace ray
