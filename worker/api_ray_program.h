// worker/api_ray_program.h
//
// A program written against Ray's C++ API, as a user would write it: it
// includes only <ray/api.h> (and so relies on what that header brings in:
// std::cout, std::any, boost::optional, msgpack). api_ray_program.cc
// registers its remote code and is compiled as C++17, like user code;
// api_actor_test.cc checks what can be checked without a cluster.
#pragma once

#include <ray/api.h>

namespace api_program {

// Instances alive, to see that an actor's factory result is deleted.
inline int g_live_counters = 0;

class Counter {
 public:
  explicit Counter(int start) : value_(start) { ++g_live_counters; }
  ~Counter() { --g_live_counters; }
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  static Counter* FactoryCreate() { return new Counter(0); }

  int Add(int n) { return value_ += n; }
  int Add(int a, int b) { return value_ += a + b; }
  int Get() const { return value_; }
  void Reset() { value_ = 0; }
  std::string Describe(const std::string& prefix) const { return prefix + std::to_string(value_); }

 private:
  int value_;
};

Counter* CreateCounter(int start);
Counter* CreateCounter(int start, int step);
Counter* CreateNull();
Counter* CreateThrowing(int start);

// A struct carrying a handle, as user code nests them.
struct Directory {
  std::string label;
  ray::ActorHandle<Counter> counter;
  std::vector<ray::ActorHandle<Counter>> others;
  MSGPACK_DEFINE(label, counter, others);
};

// Remote functions passing handles in and out.
ray::ActorHandle<Counter> PassHandle(ray::ActorHandle<Counter> handle);
Directory Describe(Directory directory);

// Uses std::cout, std::any and boost::optional with only <ray/api.h>.
std::string UseStandardNames();

// Everything a Ray program calls on actors, against a runtime that is not
// initialized: each call must throw. Returns how many did.
int CallEveryActorEntryPoint();

}  // namespace api_program
