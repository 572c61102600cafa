// Nested tasks on a 1-CPU cluster: a task blocked in ray::Get lends its
// CPU to the raylet, so three levels of nesting finish instead of
// deadlocking.
#include <ray/api.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include "tests/tasks_harness.h"

namespace {
int Leaf(int x) { return x + 1; }
int Middle(int x) { return *ray::Get(ray::Task(Leaf).Remote(x)) * 10; }
int Top(int x) { return *ray::Get(ray::Task(Middle).Remote(x)) + 5; }
int Pid() { return ::getpid(); }
}  // namespace

RAY_REMOTE(Leaf, Middle, Top, Pid);

TEST_CASE("nested tasks three levels deep finish on a 1-CPU cluster") {
  CHECK(*ray::Get(ray::Task(Top).Remote(1)) == 25);
  std::vector<ray::ObjectRef<int>> refs;
  for (int i = 0; i < 3; ++i) refs.push_back(ray::Task(Top).Remote(i));
  std::vector<int> values;
  for (const auto& v : ray::Get(refs)) values.push_back(*v);
  CHECK(values == std::vector<int>{15, 25, 35});
  lumen::testing::RecordWorkerPid(*ray::Get(ray::Task(Pid).Remote()));
  CHECK(ray::ClusterResources()["CPU"] == 1);
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 1); }
