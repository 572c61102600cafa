// Resource amounts on a real 2-CPU local cluster (issue 9, item 3): the API
// refuses bad names and amounts with std::invalid_argument naming both, the
// raylet refuses the same shapes from a client that skips the API's check
// (INVALID_ARGUMENT, surfaced as the task's error), and both keep serving
// good requests afterwards.
#include <ray/api.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "common/rpc/client.h"
#include "proto/raylet.grpc.pb.h"
#include "tests/tasks_harness.h"
#include "worker/runtime.h"

namespace {

constexpr int kGetTimeoutMs = 60000;  // Only a failing test waits this long.
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

int Add(int a, int b) { return a + b; }

// The message of what `call` throws as std::invalid_argument, or a note
// that it threw nothing (or something else).
template <typename F>
std::string InvalidArgumentMessage(F&& call) {
  try {
    call();
  } catch (const std::invalid_argument& e) {
    return e.what();
  } catch (const std::exception& e) {
    return std::string("threw another type: ") + e.what();
  }
  return "did not throw";
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

RAY_REMOTE(Add);

TEST_CASE("SetResource refuses amounts the raylet cannot count, naming resource and value") {
  struct Case {
    double amount;
    std::string shown;
  };
  const Case cases[] = {{kNaN, "nan"},   {-1, "-1"},         {1e300, "1e+300"},
                        {kInf, "inf"},   {-kInf, "-inf"},    {0.00001, "1e-05"}};
  for (const Case& c : cases) {
    std::string message = InvalidArgumentMessage(
        [&] { (void)ray::Task(Add).SetResource("CPU", c.amount).Remote(1, 2); });
    INFO(c.shown << ": " << message);
    CHECK(Contains(message, "\"CPU\""));
    CHECK(Contains(message, "amount " + c.shown));
  }
}

TEST_CASE("SetResource and SetResources refuse empty and unprintable names") {
  std::string empty = InvalidArgumentMessage([] { (void)ray::Task(Add).SetResource("", 1); });
  INFO(empty);
  CHECK(Contains(empty, "empty"));
  std::string space = InvalidArgumentMessage([] { (void)ray::Task(Add).SetResource("my gpu", 1); });
  INFO(space);
  CHECK(Contains(space, "\"my gpu\""));
  std::string in_map = InvalidArgumentMessage(
      [] { (void)ray::Task(Add).SetResources({{"CPU", 1}, {"GPU", -2}}); });
  INFO(in_map);
  CHECK(Contains(in_map, "\"GPU\": amount -2"));
}

TEST_CASE("Init refuses bad custom resources before starting anything") {
  ray::RayConfig config;
  config.resources["special"] = kNaN;
  std::string message = InvalidArgumentMessage([&] { ray::Init(config); });
  INFO(message);
  CHECK(Contains(message, "\"special\": amount nan"));
}

TEST_CASE("good fractional and zero amounts still run after refusals") {
  CHECK(*ray::Get(ray::Task(Add).SetResource("CPU", 0.5).Remote(1, 2), kGetTimeoutMs) == 3);
  CHECK(*ray::Get(ray::Task(Add).SetResource("CPU", 0.0001).Remote(2, 2), kGetTimeoutMs) == 4);
  CHECK(*ray::Get(ray::Task(Add).SetResources({{"CPU", 1}, {"GPU", 0}}).Remote(3, 2),
                  kGetTimeoutMs) == 5);
}

TEST_CASE("the raylet refuses a bad shape sent directly with INVALID_ARGUMENT") {
  lumen::rpc::RpcClient<lumen::rpc::RayletService> raylet(lumen::worker::LocalRayletAddress(),
                                                         lumen::worker::ClusterToken());
  for (double bad : {-1.0, kNaN, 1e300, 0.00001}) {
    lumen::rpc::RequestWorkerLeaseRequest request;
    request.set_function_name("Add");
    (*request.mutable_resources())["CPU"] = bad;
    auto reply = raylet.CallSync(&lumen::rpc::RayletService::Stub::RequestWorkerLease, request,
                                 kGetTimeoutMs);
    INFO(bad << ": " << (reply.ok() ? "granted or rejected in the reply" : reply.status().ToString()));
    REQUIRE_FALSE(reply.ok());
    CHECK(reply.status().code() == absl::StatusCode::kInvalidArgument);
    CHECK(Contains(std::string(reply.status().message()), "\"CPU\""));
  }
  lumen::rpc::RequestWorkerLeaseRequest empty_name;
  (*empty_name.mutable_resources())[""] = 1;
  auto reply = raylet.CallSync(&lumen::rpc::RayletService::Stub::RequestWorkerLease, empty_name,
                               kGetTimeoutMs);
  CHECK(reply.status().code() == absl::StatusCode::kInvalidArgument);
  // It keeps serving good requests.
  CHECK(*ray::Get(ray::Task(Add).Remote(20, 22), kGetTimeoutMs) == 42);
}

TEST_CASE("a task whose shape skipped the API's check fails with the raylet's reason") {
  ray::internal::TaskOptions options;
  options.resources["CPU"] = -1;  // What SetResource refuses, sent anyway.
  std::vector<ray::internal::TaskArg> args;
  args.push_back(ray::internal::MakeTaskArg<int>(1));
  args.push_back(ray::internal::MakeTaskArg<int>(2));
  ray::ObjectRef<int> ref(ray::internal::SubmitTask(
      ray::internal::FunctionName(reinterpret_cast<const void*>(Add)), std::move(args), options));
  std::string message = lumen::testing::ErrorMessageOf([&] { ray::Get(ref, kGetTimeoutMs); });
  INFO(message);
  CHECK(Contains(message, "\"CPU\": amount -1"));
  CHECK(Contains(message, "invalid"));
  CHECK_FALSE(Contains(message, "unreachable"));
  // Good tasks of another shape are unharmed.
  CHECK(*ray::Get(ray::Task(Add).Remote(1, 1), kGetTimeoutMs) == 2);
}

int main(int argc, char** argv) { return lumen::testing::RunTaskTests(argc, argv, 2); }
