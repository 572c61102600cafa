#include "raylet/object_freer.h"

#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

#include "common/rpc/server.h"

namespace lumen::raylet {
namespace {

// A raylet that only records the FreeObjects calls it gets.
class RecordingRaylet : public rpc::RayletService::CallbackService {
 public:
  grpc::ServerUnaryReactor* FreeObjects(grpc::CallbackServerContext* ctx, const rpc::FreeObjectsRequest* request,
                                        rpc::FreeObjectsReply*) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      calls_.push_back(*request);
    }
    cv_.notify_all();
    auto* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
  // The calls so far, once there are `n` (or after 30 s, a failure anyway).
  std::vector<rpc::FreeObjectsRequest> WaitFor(size_t n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait_for(lock, std::chrono::seconds(30), [&] { return calls_.size() >= n; });
    return calls_;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<rpc::FreeObjectsRequest> calls_;
};

const std::string kLocal = NodeId::FromRandom().Binary();

ObjectFreer MakeFreer(std::optional<rpc::Address> address, std::vector<std::string>* resolved) {
  return ObjectFreer("/nonexistent/plasma.sock", "secret", kLocal, [=](const std::string& node) {
    resolved->push_back(node);
    return address;
  });
}

}  // namespace

TEST_CASE("ObjectFreer refuses malformed ids") {
  std::vector<std::string> resolved;
  ObjectFreer freer = MakeFreer(std::nullopt, &resolved);
  rpc::FreeObjectsRequest request;
  request.add_object_ids("short");
  CHECK(absl::IsInvalidArgument(freer.Free(request)));
  request.clear_object_ids();
  request.add_object_ids(ObjectId::FromRandom().Binary());
  request.set_node_id("not a node id");
  CHECK(absl::IsInvalidArgument(freer.Free(request)));
  CHECK(resolved.empty());
  CHECK(freer.deleted() == 0);
}

TEST_CASE("ObjectFreer deletes here when the call names this node or none, even without a store") {
  std::vector<std::string> resolved;
  ObjectFreer freer = MakeFreer(std::nullopt, &resolved);
  rpc::FreeObjectsRequest request;
  request.add_object_ids(ObjectId::FromRandom().Binary());
  request.add_object_ids(ObjectId::FromRandom().Binary());
  CHECK(freer.Free(request).ok());  // Best effort: the store is not there.
  request.set_node_id(kLocal);
  CHECK(freer.Free(request).ok());
  CHECK(freer.deleted() == 4);
  CHECK(resolved.empty());
}

TEST_CASE("ObjectFreer skips a dead node and forwards to a live one") {
  RecordingRaylet raylet;
  rpc::GrpcServer server("127.0.0.1", 0, "secret", nullptr);
  server.RegisterService(&raylet);
  auto port = server.Start();
  REQUIRE(port.ok());

  const std::string dead = NodeId::FromRandom().Binary();
  std::vector<std::string> resolved;
  ObjectFreer skipping = MakeFreer(std::nullopt, &resolved);
  rpc::FreeObjectsRequest request;
  const std::string id = ObjectId::FromRandom().Binary();
  request.add_object_ids(id);
  request.set_node_id(dead);
  CHECK(skipping.Free(request).ok());
  CHECK(resolved == std::vector<std::string>{dead});

  rpc::Address address;
  address.set_ip("127.0.0.1");
  address.set_port(*port);
  const std::string live = NodeId::FromRandom().Binary();
  ObjectFreer forwarding = MakeFreer(address, &resolved);
  request.set_node_id(live);
  CHECK(forwarding.Free(request).ok());
  const auto calls = raylet.WaitFor(1);
  REQUIRE(calls.size() == 1);
  CHECK(calls[0].node_id().empty());  // The receiving raylet deletes in its own store.
  REQUIRE(calls[0].object_ids_size() == 1);
  CHECK(calls[0].object_ids(0) == id);
  CHECK(forwarding.deleted() == 0);
  server.Shutdown();
}

}  // namespace lumen::raylet
